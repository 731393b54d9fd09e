/**
 * Kernel memory writes by kernel virtual address. Two sinks: at boot the model builds a
 * PageImage (VA translated to PA by the model's own mappings), at run time every write
 * becomes guest instructions that go through the Cpu (see workload/insn.ts).
 */
import { PAGE_SIZE } from "../../shared/base/index.js";
import type { PageImage } from "./page-image.js";

export interface KMem {
  write(va: bigint, data: Uint8Array): void;
}

/** Writes into the boot image, translating kernel VAs with `toPa`. */
export class BootMem implements KMem {
  readonly #image: PageImage;
  readonly #toPa: (va: bigint) => bigint;
  constructor(image: PageImage, toPa: (va: bigint) => bigint) {
    this.#image = image;
    this.#toPa = toPa;
  }
  write(va: bigint, data: Uint8Array): void {
    // Translate per page: a VA range contiguous in virtual memory need not be physically.
    let off = 0;
    let v = va;
    while (off < data.length) {
      const po = Number(v & BigInt(PAGE_SIZE - 1));
      const n = Math.min(PAGE_SIZE - po, data.length - off);
      this.#image.write(this.#toPa(v), data.subarray(off, off + n));
      off += n;
      v += BigInt(n);
    }
  }
}

/** A struct being filled in before one write: little-endian fields at profile offsets. */
export class StructBuf {
  readonly bytes: Uint8Array;
  readonly #dv: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#dv = new DataView(this.bytes.buffer);
  }
  u8(off: number, v: number): this {
    this.#dv.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.#dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.#dv.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.#dv.setInt32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint): this {
    this.#dv.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
  /** A NUL-padded string of at most `max` bytes (including the NUL when it fits). */
  str(off: number, s: string, max: number): this {
    const b = Buffer.from(s, "latin1");
    this.bytes.set(b.subarray(0, max), off);
    return this;
  }
  set(off: number, b: Uint8Array): this {
    this.bytes.set(b, off);
    return this;
  }
}

export function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}
export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
export function cString(s: string): Uint8Array {
  const b = Buffer.from(s + "\0", "latin1");
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}
