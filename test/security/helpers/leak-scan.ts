/**
 * What the leak scan looks for in host-visible bytes:
 *
 * - secrets (a planted marker, keys): every occurrence, anywhere (`occurrences`);
 * - plaintext pages of guest memory: a 4 KiB chunk of host-visible bytes equal to any of
 *   them (`PlaintextIndex.pageMatches`), and — because relayed streams and rings are not
 *   page-aligned — any 64-byte window of a plaintext page found at any offset
 *   (`PlaintextIndex.windowMatches`: a Rabin–Karp rolling hash over the host bytes against
 *   every 64-byte-aligned window of every plaintext page; a leaked run of 127 bytes or more
 *   always contains one). Windows with fewer than 16 distinct byte values (zero fill,
 *   padding, repeated patterns) are left out: they would match by chance and say nothing.
 */
import { createHash } from "node:crypto";

export const WINDOW = 64;
const MIN_DISTINCT = 16;
const B = 0x01000193;
const PAGE = 4096;

/** Occurrences of `needle` in `hay` (overlapping ones included). */
export function occurrences(hay: Uint8Array, needle: Uint8Array): number {
  const h = Buffer.from(hay.buffer, hay.byteOffset, hay.length);
  let n = 0;
  for (let i = h.indexOf(needle); i >= 0; i = h.indexOf(needle, i + 1)) n++;
  return n;
}

function distinct(b: Uint8Array, from: number, len: number, seen: Uint8Array, stamp: number): number {
  let n = 0;
  for (let i = from; i < from + len; i++) {
    if (seen[b[i]!] !== stamp) {
      seen[b[i]!] = stamp;
      n++;
    }
  }
  return n;
}

/** Polynomial hash of a window, int32 arithmetic (mod 2^32). */
function windowHash(b: Uint8Array, from: number): number {
  let h = 0;
  for (let i = from; i < from + WINDOW; i++) h = (Math.imul(h, B) + b[i]!) | 0;
  return h;
}

/** B^(WINDOW-1) mod 2^32: the weight of the byte leaving the window. */
const OUT_WEIGHT = (() => {
  let p = 1;
  for (let i = 0; i < WINDOW - 1; i++) p = Math.imul(p, B);
  return p;
})();

/** Prefilter: a 2^24-bit (2 MiB, cache-friendly) Bloom filter, two bits per window (top bits of h and of h·MIX). */
const BLOOM_SHIFT = 8;
const MIX = 0x5bd1e995;

/**
 * Rolls the hash from `from` and records prefilter hits in `out` until it is full or the
 * buffer ends; returns where to continue.
 */
function scanCandidates(buf: Uint8Array, from: number, bloom: Int32Array, out: Int32Array, hashes: Int32Array): { next: number; count: number } {
  const last = buf.length - WINDOW;
  let h = windowHash(buf, from);
  let count = 0;
  let i = from;
  for (;;) {
    const k = h >>> BLOOM_SHIFT;
    const k2 = Math.imul(h, MIX) >>> BLOOM_SHIFT;
    if ((bloom[k >>> 5]! & (1 << (k & 31))) !== 0 && (bloom[k2 >>> 5]! & (1 << (k2 & 31))) !== 0) {
      hashes[count] = h;
      out[count++] = i;
      if (count === out.length) return { next: i + 1, count };
    }
    if (i === last) return { next: last + 1, count };
    h = (Math.imul(h - Math.imul(buf[i]!, OUT_WEIGHT), B) + buf[i + WINDOW]!) | 0;
    i++;
  }
}

export class PlaintextIndex {
  readonly #pages: Uint8Array[] = [];
  readonly #pageHashes = new Set<string>();
  readonly #bloom = new Int32Array(1 << (32 - BLOOM_SHIFT - 5));
  readonly #windows = new Map<number, number[]>();
  #windowCount = 0;
  readonly #seen = new Uint8Array(256);
  #stamp = 0;

  /** Pages indexed (distinct, non-trivial). */
  get pages(): number {
    return this.#pages.length;
  }
  /** 64-byte windows indexed. */
  get windows(): number {
    return this.#windowCount;
  }

  /** Adds a plaintext page (4 KiB); pages of one repeated byte and duplicates are skipped. */
  add(page: Uint8Array): void {
    if (page.length !== PAGE || page.every((x) => x === page[0])) return;
    const key = createHash("sha256").update(page).digest("hex");
    if (this.#pageHashes.has(key)) return;
    this.#pageHashes.add(key);
    const p = new Uint8Array(page);
    const idx = this.#pages.push(p) - 1;
    for (let off = 0; off < PAGE; off += WINDOW) {
      if (distinct(p, off, WINDOW, this.#seen, this.#nextStamp()) < MIN_DISTINCT) continue;
      const h = windowHash(p, off);
      const k = h >>> BLOOM_SHIFT;
      const k2 = Math.imul(h, MIX) >>> BLOOM_SHIFT;
      this.#bloom[k >>> 5]! |= 1 << (k & 31);
      this.#bloom[k2 >>> 5]! |= 1 << (k2 & 31);
      const list = this.#windows.get(h);
      if (list === undefined) this.#windows.set(h, [idx * PAGE + off]);
      else list.push(idx * PAGE + off);
      this.#windowCount++;
    }
  }

  /** 4 KiB chunks of `buf` (at every 4 KiB-aligned offset) equal to a plaintext page. */
  pageMatches(buf: Uint8Array): number {
    let n = 0;
    for (let off = 0; off + PAGE <= buf.length; off += PAGE) {
      const chunk = buf.subarray(off, off + PAGE);
      if (chunk[0] === chunk[PAGE - 1] && chunk.every((x) => x === chunk[0])) continue;
      if (this.#pageHashes.has(createHash("sha256").update(chunk).digest("hex"))) n++;
    }
    return n;
  }

  /** Positions in `buf` where a 64-byte window of a plaintext page appears (at any offset). */
  windowMatches(input: Uint8Array): number {
    if (input.length < WINDOW) return 0;
    const buf = input instanceof Buffer ? new Uint8Array(input.buffer, input.byteOffset, input.length) : input;
    let n = 0;
    // The hot loop only collects candidate positions (prefilter hits); they are verified after.
    const at = new Int32Array(1 << 16);
    const hashes = new Int32Array(1 << 16);
    for (let from = 0; from <= buf.length - WINDOW; ) {
      const { next, count } = scanCandidates(buf, from, this.#bloom, at, hashes);
      for (let c = 0; c < count; c++) if (this.#verify(buf, at[c]!, hashes[c]!)) n++;
      from = next;
    }
    return n;
  }

  #verify(buf: Uint8Array, at: number, h: number): boolean {
    for (const packed of this.#windows.get(h) ?? []) {
      const page = this.#pages[Math.floor(packed / PAGE)]!;
      const off = packed % PAGE;
      let eq = true;
      for (let k = 0; k < WINDOW && eq; k++) eq = page[off + k] === buf[at + k];
      if (eq) return true;
    }
    return false;
  }

  #nextStamp(): number {
    this.#stamp = (this.#stamp % 255) + 1;
    if (this.#stamp === 1) this.#seen.fill(0);
    return this.#stamp;
  }
}
