/**
 * Byte and bigint helpers. 64-bit quantities are bigint everywhere; these helpers are
 * the only place little-endian encoding is spelled out.
 */
import { DecodeError } from "./errors.js";

export const U64_MAX = (1n << 64n) - 1n;

export function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

export function readU8(b: Uint8Array, off: number): number {
  checkRange(b, off, 1);
  return b[off]!;
}
export function readU16(b: Uint8Array, off: number): number {
  checkRange(b, off, 2);
  return b[off]! | (b[off + 1]! << 8);
}
export function readU32(b: Uint8Array, off: number): number {
  checkRange(b, off, 4);
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
export function readU64(b: Uint8Array, off: number): bigint {
  checkRange(b, off, 8);
  const lo = BigInt(readU32(b, off));
  const hi = BigInt(readU32(b, off + 4));
  return (hi << 32n) | lo;
}
export function writeU8(b: Uint8Array, off: number, v: number): void {
  checkRange(b, off, 1);
  b[off] = v & 0xff;
}
export function writeU16(b: Uint8Array, off: number, v: number): void {
  checkRange(b, off, 2);
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
export function writeU32(b: Uint8Array, off: number, v: number): void {
  checkRange(b, off, 4);
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
export function writeU64(b: Uint8Array, off: number, v: bigint): void {
  checkRange(b, off, 8);
  const x = BigInt.asUintN(64, v);
  writeU32(b, off, Number(x & 0xffffffffn));
  writeU32(b, off + 4, Number(x >> 32n));
}

/** Little-endian unsigned integer of any length. */
export function readUintLE(b: Uint8Array, off: number, len: number): bigint {
  checkRange(b, off, len);
  let v = 0n;
  for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
}
export function writeUintLE(b: Uint8Array, off: number, len: number, v: bigint): void {
  checkRange(b, off, len);
  let x = v;
  for (let i = 0; i < len; i++) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new RangeError(`value does not fit in ${len} bytes`);
}

function checkRange(b: Uint8Array, off: number, len: number): void {
  if (!Number.isInteger(off) || off < 0 || off + len > b.length) {
    throw new DecodeError("OUT_OF_BOUNDS", `read of ${len} bytes at offset ${off} past end of ${b.length}-byte buffer`, {
      offset: off,
      length: len,
      size: b.length,
    });
  }
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Parses hex (optionally 0x-prefixed, whitespace and ':' ignored). Throws DecodeError on bad input. */
export function fromHex(s: string, what = "hex string"): Uint8Array {
  const t = s.trim().replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) {
    throw new DecodeError("BAD_HEX", `${what} is not an even-length hex string`, { value: s.slice(0, 80) });
  }
  return new Uint8Array(Buffer.from(t, "hex"));
}

export function hex64(v: bigint): string {
  return "0x" + BigInt.asUintN(64, v).toString(16).padStart(16, "0");
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAllZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A copy as a plain Uint8Array (not a Buffer view of a shared pool). */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}
