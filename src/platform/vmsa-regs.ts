/**
 * Registers live in the VMSA page (SNP.md §5): these helpers read and write them at the
 * offsets of the shared VMSA layout table, straight from the page's bytes. The hot paths
 * (the page walk reads CR0/CR3/CR4/EFER/RFLAGS/CPL on every access) use 32-bit word reads;
 * the offsets come from the layout table, never from literals.
 */
import { VMSA } from "../shared/spec/index.js";
import type { VmsaU64Name } from "../shared/spec/index.js";
import type { Segment, SegmentName } from "./api.js";

const off = (name: Parameters<typeof VMSA.offsetOf>[0]): number => VMSA.offsetOf(name);

/** Offsets the platform itself uses. */
export const VMSA_OFF = {
  vmpl: off("vmpl"),
  cpl: off("cpl"),
  efer: off("efer"),
  cr0: off("cr0"),
  cr2: off("cr2"),
  cr3: off("cr3"),
  cr4: off("cr4"),
  rflags: off("rflags"),
  rip: off("rip"),
  sevFeatures: off("sev_features"),
  exitCode: off("guest_exit_code"),
  exitInfo1: off("guest_exit_info_1"),
  exitInfo2: off("guest_exit_info_2"),
  exitIntInfo: off("guest_exit_int_info"),
  nrip: off("guest_nrip"),
} as const;

const U64_OFFSETS: ReadonlyMap<string, number> = new Map(
  VMSA.fields.filter((f) => f.type === "u64").map((f) => [f.name, f.offset] as const),
);

/** Offset of a u64 VMSA field; throws RangeError for a name that is not one. */
export function u64Offset(name: VmsaU64Name): number {
  const o = U64_OFFSETS.get(name);
  if (o === undefined) throw new RangeError(`VMSA has no u64 field ${String(name)}`);
  return o;
}

export const SEGMENT_NAMES: readonly SegmentName[] = ["es", "cs", "ss", "ds", "fs", "gs", "gdtr", "ldtr", "idtr", "tr"];
const SEGMENT_OFFSETS: ReadonlyMap<string, number> = new Map(SEGMENT_NAMES.map((n) => [n, off(`${n}_selector`)] as const));

export function segmentOffset(name: SegmentName): number {
  const o = SEGMENT_OFFSETS.get(name);
  if (o === undefined) throw new RangeError(`not a segment register: ${String(name)}`);
  return o;
}

/** Little-endian u32 (as an unsigned number). */
export function rd32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export function rd64(b: Uint8Array, o: number): bigint {
  return (BigInt(rd32(b, o + 4)) << 32n) | BigInt(rd32(b, o));
}

/** Writes the low 64 bits of `v` (x86 register semantics: values wrap). */
export function wr64(b: Uint8Array, o: number, v: bigint): void {
  const x = BigInt.asUintN(64, v);
  wr32(b, o, Number(x & 0xffffffffn));
  wr32(b, o + 4, Number(x >> 32n));
}

export function readSegment(b: Uint8Array, name: SegmentName): Segment {
  const o = segmentOffset(name);
  return { selector: b[o]! | (b[o + 1]! << 8), attrib: b[o + 2]! | (b[o + 3]! << 8), limit: rd32(b, o + 4), base: rd64(b, o + 8) };
}

export function writeSegment(b: Uint8Array, name: SegmentName, s: Segment): void {
  const o = segmentOffset(name);
  for (const [v, max] of [
    [s.selector, 0xffff],
    [s.attrib, 0xffff],
    [s.limit, 0xffffffff],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`segment ${name}: field out of range (${v})`);
  }
  b[o] = s.selector & 0xff;
  b[o + 1] = s.selector >>> 8;
  b[o + 2] = s.attrib & 0xff;
  b[o + 3] = s.attrib >>> 8;
  wr32(b, o + 4, s.limit);
  wr64(b, o + 8, s.base);
}
