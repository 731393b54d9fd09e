/**
 * Deterministic randomness for the simulated world: a SHA-256 counter-mode DRBG. The
 * same seed always gives the same stream; `fork(label)` derives an independent stream
 * so that adding a consumer does not shift everyone else's numbers.
 */
import { createHash } from "node:crypto";

export interface RngState {
  readonly seed: string;
  readonly counter: number;
}

export class SeededRng {
  readonly #seed: Uint8Array;
  readonly #label: string;
  #counter = 0;
  #buf = new Uint8Array(0);
  #pos = 0;

  constructor(seed: string | number | bigint | Uint8Array, label = "") {
    this.#seed =
      seed instanceof Uint8Array ? new Uint8Array(seed) : new Uint8Array(createHash("sha256").update(String(seed)).digest());
    this.#label = label;
  }

  /** An independent stream derived from this seed and a label. */
  fork(label: string): SeededRng {
    const h = createHash("sha256").update(this.#seed).update("/fork/").update(label).digest();
    return new SeededRng(new Uint8Array(h), label);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (this.#pos >= this.#buf.length) this.#refill();
      const take = Math.min(n - o, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), o);
      this.#pos += take;
      o += take;
    }
    return out;
  }

  /** Uniform integer in [0, n) for n ≤ 2^32 (rejection sampling, no modulo bias). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x1_0000_0000) throw new RangeError(`rng.int: bad bound ${n}`);
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    for (;;) {
      const b = this.bytes(4);
      const v = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (v < limit) return v % n;
    }
  }

  /** Uniform bigint in [0, n). */
  bigint(n: bigint): bigint {
    if (n <= 0n) throw new RangeError("rng.bigint: bound must be positive");
    const bits = n.toString(2).length;
    const bytes = Math.ceil(bits / 8);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      let v = 0n;
      for (const x of this.bytes(bytes)) v = (v << 8n) | BigInt(x);
      v &= mask;
      if (v < n) return v;
    }
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError("rng.pick: empty array");
    return xs[this.int(xs.length)]!;
  }

  /** Snapshot of the stream position (restorable with `restore`). */
  snapshot(): { counter: number; pos: number } {
    return { counter: this.#counter, pos: this.#pos };
  }
  restore(s: { counter: number; pos: number }): void {
    this.#counter = s.counter;
    this.#buf = new Uint8Array(0);
    this.#pos = 0;
    if (s.counter > 0) {
      this.#counter = s.counter - 1;
      this.#refill();
      this.#pos = s.pos;
    }
  }

  #refill(): void {
    const h = createHash("sha256");
    h.update(this.#seed);
    h.update(this.#label);
    const c = Buffer.alloc(8);
    c.writeBigUInt64LE(BigInt(this.#counter++));
    h.update(c);
    this.#buf = new Uint8Array(h.digest());
    this.#pos = 0;
  }
}
