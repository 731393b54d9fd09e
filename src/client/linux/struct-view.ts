/**
 * Bytes of (part of) a kernel object read in one go, and typed field access by offset.
 * Walkers read the window of a struct their fields span (one read per object, batched
 * across objects) and decode locally; an offset outside the window is a bug, not a guess.
 */
import { readU16, readU32, readU64 } from "../../shared/base/index.js";
import type { MemberInfo } from "../../shared/kernel/index.js";
import { type Vmi, VmiError, kva } from "../vmi/index.js";

export interface Window {
  /** Offset (from the object's address) of the first byte read. */
  readonly from: number;
  readonly len: number;
}

/** The smallest window covering the given members (or {offset, size} pairs). */
export function windowOf(members: Iterable<{ readonly offset: number; readonly size: number }>): Window {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of members) {
    lo = Math.min(lo, m.offset);
    hi = Math.max(hi, m.offset + Math.max(m.size, 1));
  }
  if (lo === Infinity) return { from: 0, len: 0 };
  return { from: lo, len: hi - lo };
}

/** Window over every member of a resolved struct table (`b.m.task_struct`). */
export function windowOfStruct(members: Readonly<Record<string, MemberInfo>>, extra: readonly { offset: number; size: number }[] = []): Window {
  return windowOf([...Object.values(members), ...extra]);
}

export class StructView {
  /** `addr` is the object's address; `bytes[0]` is the byte at `addr + from`. */
  constructor(
    readonly addr: bigint,
    readonly bytes: Uint8Array,
    readonly from = 0,
  ) {}

  #at(off: number, size: number): number {
    const i = off - this.from;
    if (i < 0 || i + size > this.bytes.length) throw new RangeError(`field at +${off} (${size} bytes) is outside the window read`);
    return i;
  }
  u8(off: number): number {
    return this.bytes[this.#at(off, 1)]!;
  }
  u16(off: number): number {
    return readU16(this.bytes, this.#at(off, 2));
  }
  u32(off: number): number {
    return readU32(this.bytes, this.#at(off, 4));
  }
  i32(off: number): number {
    return this.u32(off) | 0;
  }
  u64(off: number): bigint {
    return readU64(this.bytes, this.#at(off, 8));
  }
  ptr(off: number): bigint {
    return this.u64(off);
  }
  /** A char array field up to its first NUL (Latin-1 safe, invalid UTF-8 replaced). */
  str(off: number, len: number): string {
    const i = this.#at(off, len);
    const b = this.bytes.subarray(i, i + len);
    const z = b.indexOf(0);
    return new TextDecoder("utf-8").decode(z < 0 ? b : b.subarray(0, z));
  }
  /** The address of a field. */
  field(off: number): bigint {
    return BigInt.asUintN(64, this.addr + BigInt(off));
  }
}

/** Reads the same window of many objects (kernel virtual) in one batch. */
export async function readViews(vmi: Vmi, addrs: readonly bigint[], w: Window): Promise<(StructView | VmiError)[]> {
  const res = await vmi.readManySettled(addrs.map((a) => ({ ctx: kva(BigInt.asUintN(64, a + BigInt(w.from))), len: w.len })));
  return res.map((r, i) => (r instanceof VmiError ? r : new StructView(addrs[i]!, r, w.from)));
}

/** Reads NUL-terminated strings at many places in one batch (each at most `max` bytes). */
export async function readStrings(vmi: Vmi, addrs: readonly bigint[], max: number): Promise<(string | VmiError)[]> {
  // One batch of reads up to the next page boundary (so a string ending before an unmapped
  // page still reads); strings that run past it are finished one by one.
  const first = addrs.map((a) => Math.min(max, 4096 - Number(a & 0xfffn)));
  const res = await vmi.readManySettled(addrs.map((a, i) => ({ ctx: kva(a), len: first[i]! })));
  return Promise.all(
    res.map(async (r, i) => {
      if (r instanceof VmiError) return r;
      const z = r.indexOf(0);
      if (z >= 0 || r.length >= max) return new TextDecoder("utf-8").decode(z >= 0 ? r.subarray(0, z) : r);
      try {
        return await vmi.readCString(kva(addrs[i]!), max);
      } catch (e) {
        if (e instanceof VmiError) return e;
        throw e;
      }
    }),
  );
}
