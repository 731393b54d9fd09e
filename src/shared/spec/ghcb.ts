/**
 * The GHCB page — SNP.md §6.1 (Linux `struct ghcb`) — and the SNP non-automatic-exit (NAE)
 * codes of §6.3 (Linux uapi svm.h, coconut ghcb.rs). The GHCB is a shared (hypervisor-
 * visible) 4 KiB page; its save-area offsets equal the VMSA's. A field counts only if its
 * valid-bitmap bit (= field offset / 8) is set. Reserved gaps are not checked: the host
 * writes this page.
 */
import { DecodeError, PAGE_SIZE, readU64, writeU64 } from "../base/index.js";
import { bytes, defineLayout, u8, u16, u32, u64f } from "./layout.js";

export const GHCB_SIZE = PAGE_SIZE;
export const GHCB_SHARED_BUFFER_OFFSET = 0x800;
export const GHCB_SHARED_BUFFER_SIZE = 0x7f0;
export const GHCB_VALID_BITMAP_OFFSET = 0x3f0;
export const GHCB_VALID_BITMAP_SIZE = 16;
/** GHCB protocol version for SNP. */
export const GHCB_PROTOCOL_VERSION_SNP = 2;
/** ghcb_usage: 0 = standard GHCB. */
export const GHCB_USAGE_STANDARD = 0;

export const GHCB = defineLayout({
  name: "GHCB",
  size: GHCB_SIZE,
  source: "SNP.md §6.1; Linux struct ghcb",
  fields: [
    u8("cpl", 0x0cb),
    u64f("xss", 0x140),
    u64f("dr7", 0x160),
    u64f("rip", 0x178),
    u64f("rsp", 0x1d8),
    u64f("rax", 0x1f8),
    u64f("rcx", 0x308),
    u64f("rdx", 0x310),
    u64f("rbx", 0x318),
    u64f("rbp", 0x328),
    u64f("rsi", 0x330),
    u64f("rdi", 0x338),
    u64f("r8", 0x340),
    u64f("r9", 0x348),
    u64f("r10", 0x350),
    u64f("r11", 0x358),
    u64f("r12", 0x360),
    u64f("r13", 0x368),
    u64f("r14", 0x370),
    u64f("r15", 0x378),
    u64f("sw_exit_code", 0x390),
    u64f("sw_exit_info_1", 0x398),
    u64f("sw_exit_info_2", 0x3a0),
    u64f("sw_scratch", 0x3a8),
    u64f("xcr0", 0x3e8),
    bytes("valid_bitmap", GHCB_VALID_BITMAP_OFFSET, GHCB_VALID_BITMAP_SIZE),
    u64f("x87_state_gpa", 0x400),
    bytes("shared_buffer", GHCB_SHARED_BUFFER_OFFSET, GHCB_SHARED_BUFFER_SIZE),
    u16("protocol_version", 0xffa),
    u32("ghcb_usage", 0xffc),
  ],
});

/** The u64 save-area fields that have a valid bit. */
export type GhcbRegister = Extract<(typeof GHCB.fields)[number], { type: "u64" }>["name"];

/** Valid-bitmap bit of a save-area offset (offset / 8). */
export function ghcbValidBit(offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset >= GHCB_VALID_BITMAP_SIZE * 64) {
    throw new RangeError(`offset 0x${offset.toString(16)} has no valid bit`);
  }
  return Math.floor(offset / 8);
}

function checkPage(page: Uint8Array): void {
  if (page.length !== GHCB_SIZE) {
    throw new DecodeError("BAD_LENGTH", `GHCB is ${page.length} bytes, need ${GHCB_SIZE}`, { field: "ghcb", expected: GHCB_SIZE, actual: page.length });
  }
}

function bitPos(name: GhcbRegister): [number, number] {
  const bit = ghcbValidBit(GHCB.offsetOf(name));
  return [GHCB_VALID_BITMAP_OFFSET + (bit >> 3), 1 << (bit & 7)];
}

export function ghcbIsValid(page: Uint8Array, name: GhcbRegister): boolean {
  checkPage(page);
  const [at, mask] = bitPos(name);
  return (page[at]! & mask) !== 0;
}

export function ghcbMarkValid(page: Uint8Array, name: GhcbRegister): void {
  checkPage(page);
  const [at, mask] = bitPos(name);
  page[at] = page[at]! | mask;
}

/** Writes a register and sets its valid bit (as Linux `ghcb_set_<reg>`). */
export function ghcbSet(page: Uint8Array, name: GhcbRegister, value: bigint): void {
  checkPage(page);
  writeU64(page, GHCB.offsetOf(name), value);
  ghcbMarkValid(page, name);
}

/** A register's value if its valid bit is set, else undefined. */
export function ghcbGet(page: Uint8Array, name: GhcbRegister): bigint | undefined {
  return ghcbIsValid(page, name) ? readU64(page, GHCB.offsetOf(name)) : undefined;
}

/** Invalidate: zero sw_exit_code and the valid bitmap (SNP.md §6.1). */
export function ghcbInvalidate(page: Uint8Array): void {
  checkPage(page);
  writeU64(page, GHCB.offsetOf("sw_exit_code"), 0n);
  page.fill(0, GHCB_VALID_BITMAP_OFFSET, GHCB_VALID_BITMAP_OFFSET + GHCB_VALID_BITMAP_SIZE);
}

// ---- §6.3 NAE exit codes ------------------------------------------------------------------

/** sw_exit_code values of the SNP NAE events. (#NPF 0x400 and VMGEXIT 0x403: SVM_EXIT in npf.ts.) */
export const NAE_EXIT = {
  PSC: 0x8000_0010,
  /** info1 = request page GPA, info2 = response page GPA. */
  GUEST_REQUEST: 0x8000_0011,
  /** As GUEST_REQUEST plus RAX = certificate buffer GPA, RBX = pages. */
  EXT_GUEST_REQUEST: 0x8000_0012,
  /** info1 = apic_id<<32 | vmpl<<16 | op, info2 = VMSA GPA, RAX = sev_features. */
  AP_CREATION: 0x8000_0013,
  GET_APIC_IDS: 0x8000_0017,
  /** info1 = target VMPL. */
  SNP_RUN_VMPL: 0x8000_0018,
  HV_FEATURES: 0x8000_fffd,
  TERM_REQUEST: 0x8000_fffe,
} as const;

/** AP_CREATION operations (info1 bits 15:0). */
export const AP_CREATION_OP = { ON_INIT: 0, CREATE: 1, DESTROY: 2 } as const;

export interface ApCreationInfo {
  readonly apicId: number;
  readonly vmpl: number;
  readonly op: number;
}

export function encodeApCreationInfo1(i: ApCreationInfo): bigint {
  if (!Number.isInteger(i.apicId) || i.apicId < 0 || i.apicId > 0xffff_ffff) throw new RangeError("apicId is a u32");
  if (!Number.isInteger(i.vmpl) || i.vmpl < 0 || i.vmpl > 0xffff) throw new RangeError("vmpl is a u16");
  if (!Number.isInteger(i.op) || i.op < 0 || i.op > 0xffff) throw new RangeError("op is a u16");
  return (BigInt(i.apicId) << 32n) | (BigInt(i.vmpl) << 16n) | BigInt(i.op);
}

export function decodeApCreationInfo1(v: bigint): ApCreationInfo {
  const x = BigInt.asUintN(64, v);
  return { apicId: Number(x >> 32n), vmpl: Number((x >> 16n) & 0xffffn), op: Number(x & 0xffffn) };
}

/** VMM error codes in sw_exit_info_2 bits 63:32 after a (EXT_)GUEST_REQUEST. */
export const GUEST_REQUEST_VMM_ERR = {
  NONE: 0,
  /** Certificate buffer too small; RBX = pages needed. */
  INVALID_LEN: 1,
} as const;

/** sw_exit_info_2 after a guest request: (vmm_err << 32) | fw_err. */
export function encodeGuestRequestResult(r: { vmmError: number; fwError: number }): bigint {
  for (const x of [r.vmmError, r.fwError]) if (!Number.isInteger(x) || x < 0 || x > 0xffff_ffff) throw new RangeError("not a u32");
  return (BigInt(r.vmmError) << 32n) | BigInt(r.fwError);
}

export function decodeGuestRequestResult(v: bigint): { vmmError: number; fwError: number } {
  const x = BigInt.asUintN(64, v);
  return { vmmError: Number(x >> 32n), fwError: Number(x & 0xffff_ffffn) };
}
