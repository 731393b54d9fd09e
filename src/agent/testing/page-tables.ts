/** Writes x86-64 page tables into a FakeMachine's guest RAM (entries carry the C-bit). */
import type { FakeMachine } from "./fake-machine.js";

const P = 1n, RW = 2n, US = 4n, PS = 0x80n;

export class TestPageTables {
  readonly root: bigint;
  readonly c: bigint;
  #next: bigint;

  constructor(readonly m: FakeMachine, base: bigint, readonly levels: 4 | 5 = 4) {
    this.c = 1n << BigInt(m.cBit);
    this.#next = base;
    this.root = this.#alloc();
  }

  #alloc(): bigint {
    const a = this.#next;
    this.#next += 0x1000n;
    this.m.poke(a, new Uint8Array(4096));
    return a;
  }

  /** Entry address of `va` at `level` (5..1), creating tables down to it. */
  entryAddr(va: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const e = table + ((va >> BigInt(12 + 9 * (l - 1))) & 0x1ffn) * 8n;
      let v = this.m.peek64(e);
      if ((v & P) === 0n) {
        v = this.#alloc() | P | RW | US | this.c;
        this.m.poke64(e, v);
      }
      table = v & 0x000f_ffff_ffff_f000n & ~this.c;
    }
    return table + ((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8n;
  }

  map4k(va: bigint, gpa: bigint, flags = RW): bigint {
    const e = this.entryAddr(va, 1);
    this.m.poke64(e, gpa | P | flags | this.c);
    return e;
  }

  map2m(va: bigint, gpa: bigint): void {
    this.m.poke64(this.entryAddr(va, 2), gpa | P | RW | PS | this.c);
  }

  unmap(va: bigint): void {
    this.m.poke64(this.entryAddr(va, 1), 0n);
  }
}
