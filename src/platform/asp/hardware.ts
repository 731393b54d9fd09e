/**
 * The seam between the machine (memory, RMP) and the AMD secure processor model. The
 * firmware sees through memory encryption (plaintext) and makes the RMP transitions of
 * SNP_LAUNCH_UPDATE; nothing else in the platform lets anyone do either.
 */
import type { Clock, Gpa, SeededRng } from "../../shared/base/index.js";
import type { RmpEntryView } from "../api.js";

export interface AspHardware {
  readonly memoryBytes: bigint;
  /** The guest's ASID (RMP entries assigned to this guest carry it). */
  readonly asid: number;
  /** Plaintext copy of the 4 KiB page at `gpa` (page-aligned). */
  readPage(gpa: Gpa): Uint8Array;
  /** Writes the plaintext of the page at `gpa` (firmware: secrets page, response pages). */
  writePage(gpa: Gpa, data: Uint8Array): void;
  rmpGet(gpa: Gpa): RmpEntryView;
  /**
   * The RMP transition of SNP_LAUNCH_UPDATE: the page becomes assigned to this guest,
   * VALIDATED, with the given VMPL1..3 masks (VMPL0 full), and the VMSA flag when it is a
   * VMSA page. Fails (PlatformError) if the page is already assigned.
   */
  rmpLaunchAssign(gpa: Gpa, p: { vmplPerms: readonly [number, number, number]; vmsa: boolean }): void;
}

export type Product = "milan" | "genoa" | "turin";

export interface AspConfig {
  readonly product: Product;
  /** Deterministic source for keys (ARK/ASK/VCEK), VMPCKs, CHIP_ID, REPORT_ID. */
  readonly rng: SeededRng;
  readonly clock: Clock;
  /** Report version the firmware produces (2, 3 or 5). Default 3. */
  readonly reportVersion?: 2 | 3 | 5;
  /** REPORTED/CURRENT/COMMITTED/LAUNCH TCB as a raw u64 in the product's layout; a product default otherwise. */
  readonly tcb?: bigint;
  /** Firmware version {major, minor, build}; a product default otherwise. */
  readonly firmware?: { major: number; minor: number; build: number };
  /** Set MASK_CHIP_ID (CHIP_ID reported as zeros). */
  readonly maskChipId?: boolean;
}
