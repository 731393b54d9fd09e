/**
 * Test support for the platform's own tests: a small machine with its internals, a
 * builder for x86-64 page tables written straight into guest memory, and VMSA images.
 * Not exported from src/platform/index.ts.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { SeededRng, fixedClock } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, PTE, RMP_PERM_RWX, VMSA } from "../../shared/spec/index.js";
import type { VmsaFields } from "../../shared/spec/index.js";
import type { AccessContext } from "../access-path.js";
import type { MachineConfig, MachineParts } from "../machine.js";
import { buildMachine } from "../machine.js";
import type { GuestMemory } from "../memory.js";
import { PAGE } from "../memory.js";
import type { RmpTable } from "../rmp-table.js";

export const TEST_CLOCK_START = "2026-01-15T12:00:00Z";
export const MIB = 1n << 20n;

export function testMachine(over: Partial<MachineConfig> = {}): MachineParts {
  return buildMachine({ memoryBytes: 16n * MIB, vcpus: 2, seed: "platform-test", clock: fixedClock(TEST_CLOCK_START), ...over });
}

export const gpaOf = (n: number | bigint): Gpa => BigInt(n) as Gpa;

/**
 * An independent AES-256-XTS of one 4 KiB page with the key a machine of `seed` derives
 * and the GPA as the tweak (what the host sees of a private page, and its inverse).
 */
export function xtsPage(seed: string, dir: "enc" | "dec", gpa: number, page: Uint8Array): Uint8Array {
  const key = new SeededRng(seed).fork("platform/memory-encryption").bytes(64);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(BigInt(gpa), 0);
  const c = dir === "enc" ? createCipheriv("aes-256-xts", key, iv) : createDecipheriv("aes-256-xts", key, iv);
  return new Uint8Array(Buffer.concat([c.update(page), c.final()]));
}

/** A 4 KiB VMSA page image with the given fields (others zero). */
export function vmsaImage(fields: Partial<VmsaFields>): Uint8Array {
  const page = new Uint8Array(PAGE);
  VMSA.serialize(fields, page);
  return page;
}

/** Long-mode paging registers (4-level, or 5-level with `la57`), NXE and WP on. */
export function pagingRegs(cr3: bigint, o: { la57?: boolean; nxe?: boolean; wp?: boolean; cr4?: bigint } = {}): Partial<VmsaFields> {
  return {
    cr0: CR0_PG | 1n | ((o.wp ?? true) ? CR0_WP : 0n),
    cr3,
    cr4: CR4_PAE | (o.la57 === true ? CR4_LA57 : 0n) | (o.cr4 ?? 0n),
    efer: EFER_LME | EFER_LMA | ((o.nxe ?? true) ? EFER_NXE : 0n),
  };
}

export function ctx(vmsa: Uint8Array, vmpl: number): AccessContext {
  return { vmsa, vmpl };
}

/** Assign + validate pages for the guest with VMPL1 rights `perms1` (as LAUNCH_UPDATE does). */
export function grant(rmp: RmpTable, gpaStart: number, pages: number, perms1: number = RMP_PERM_RWX, vmsa = false): void {
  for (let i = 0; i < pages; i++) rmp.launchAssign(gpaStart / PAGE + i, [perms1, 0, 0], vmsa);
}

export type PageSizeName = "4k" | "2m" | "1g";

/**
 * Builds page tables in guest memory. Table pages come from a bump allocator starting at
 * `tableBase`; entries are written as plaintext directly (the test is the "firmware").
 */
export class PageTables {
  readonly #mem: GuestMemory;
  readonly cBit: number;
  readonly levels: 4 | 5;
  readonly root: number;
  /** Whether table entries (and CR3) carry the C-bit. */
  readonly privateTables: boolean;
  #next: number;
  readonly tablePages: number[] = [];

  constructor(mem: GuestMemory, o: { tableBase: number; levels?: 4 | 5; cBit?: number; privateTables?: boolean }) {
    this.#mem = mem;
    this.cBit = o.cBit ?? 51;
    this.levels = o.levels ?? 4;
    this.privateTables = o.privateTables ?? true;
    this.#next = o.tableBase;
    this.root = this.#alloc();
  }

  get cBitMask(): bigint {
    return 1n << BigInt(this.cBit);
  }

  /** CR3 value (with the C-bit when the tables are private). */
  get cr3(): bigint {
    return BigInt(this.root) | (this.privateTables ? this.cBitMask : 0n);
  }

  #alloc(): number {
    const g = this.#next;
    this.#next += PAGE;
    this.tablePages.push(g);
    return g;
  }

  readEntry(gpa: number): bigint {
    const p = this.#mem.page(Math.floor(gpa / PAGE));
    if (p === undefined) return 0n;
    return new DataView(p.buffer, p.byteOffset).getBigUint64(gpa % PAGE, true);
  }

  writeEntry(gpa: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.#mem.writeFrom(Math.floor(gpa / PAGE), gpa % PAGE, b, 0, 8);
  }

  static index(va: bigint, level: number): number {
    return Number((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
  }

  /** GPA of the entry for `va` at `level` (5..1), following present entries; undefined if the walk stops earlier. */
  entryGpa(va: bigint, level: number): number | undefined {
    let table = this.root;
    for (let l = this.levels; l >= level; l--) {
      const e = table + PageTables.index(va, l) * 8;
      if (l === level) return e;
      const v = this.readEntry(e);
      if ((v & PTE.P) === 0n || (v & PTE.PS) !== 0n) return undefined;
      table = Number(v & ((1n << BigInt(this.cBit)) - 1n) & ~0xfffn);
    }
    return undefined;
  }

  /**
   * Maps `va` → `gpa` with a page of `size`. `flags` are the leaf's bits (default P|RW);
   * intermediate entries get P|RW|US unless `tableFlags` says otherwise. `private`
   * (default true) sets the C-bit in the leaf.
   */
  map(va: bigint, gpa: number, o: { size?: PageSizeName; flags?: bigint; private?: boolean; tableFlags?: bigint } = {}): void {
    const size = o.size ?? "4k";
    const leafLevel = size === "4k" ? 1 : size === "2m" ? 2 : 3;
    const tflags = o.tableFlags ?? (PTE.P | PTE.RW | PTE.US);
    const c = this.privateTables ? this.cBitMask : 0n;
    let table = this.root;
    for (let l = this.levels; l > leafLevel; l--) {
      const e = table + PageTables.index(va, l) * 8;
      let v = this.readEntry(e);
      if ((v & PTE.P) === 0n) {
        const t = this.#alloc();
        v = BigInt(t) | tflags | c;
        this.writeEntry(e, v);
      } else if (o.tableFlags !== undefined) {
        v = (v & ~0xfffn & ~PTE.NX) | tflags | c;
        this.writeEntry(e, v);
      }
      table = Number(v & ((1n << BigInt(this.cBit)) - 1n) & ~0xfffn);
    }
    const leaf = BigInt(gpa) | (o.flags ?? (PTE.P | PTE.RW)) | (size === "4k" ? 0n : PTE.PS) | ((o.private ?? true) ? this.cBitMask : 0n);
    this.writeEntry(table + PageTables.index(va, leafLevel) * 8, leaf);
  }
}
