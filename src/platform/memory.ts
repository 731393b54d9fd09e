/**
 * Guest-physical memory: sparse 4 KiB pages, private to the platform (no other domain ever
 * holds a reference to a page). A page that was never written is not allocated and reads
 * as zeros; writing zeros to such a page does not allocate it. GPAs are numbers here
 * (memory is at most 64 GiB, well inside 2^53); frame numbers are the map keys.
 *
 * What a page stores is what its current owner reads: the guest's plaintext (C=1) of a
 * guest-assigned page, the host's (and C=0's) bytes of a shared one. The DRAM itself does
 * not change when the host RMPUPDATEs a page to the other owner, but the key it is read
 * with does: `changeKey` re-expresses the page under the other key (page-state.ts), +1 =
 * the guest key's XTS encryption (private → shared), -1 = its decryption (shared →
 * private). A never-written page whose key changed is not allocated either: it is a "zero
 * image", E(0) or D(0) at its GPA (never zeros), computed and stored on first touch. E and
 * D cancel, so converting such a page back and forth allocates nothing.
 */
import { PAGE_SIZE, isAllZero } from "../shared/base/index.js";
import { PlatformError } from "./fault.js";

export const PAGE = PAGE_SIZE;
/** The largest machine this model builds (the RMP is one typed array). */
export const MAX_MACHINE_BYTES = 64n << 30n;

/** The guest key's AES-XTS over one page at a GPA (host-view.ts MemoryCipher). */
export interface PageCipher {
  encryptPage(gpa: number, plaintext: Uint8Array): Uint8Array;
  decryptPage(gpa: number, ciphertext: Uint8Array): Uint8Array;
}

/** +1: encrypt under the guest key (private → shared); -1: decrypt (shared → private). */
export type KeyChange = 1 | -1;

export interface MemorySnapshot {
  /** Allocated frames, ascending. */
  readonly pfns: Uint32Array;
  /** Their contents, 4 KiB each, in the same order. */
  readonly data: Uint8Array;
  /** Zero images (frames not in `pfns`), ascending, and their KeyChange. Absent = none. */
  readonly zeroImages?: { readonly pfns: Uint32Array; readonly changes: Int8Array };
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export class GuestMemory {
  readonly bytes: bigint;
  readonly pageCount: number;
  #pages = new Map<number, Uint8Array>();
  /** Never-written frames whose key changed: contents = the KeyChange applied to zeros. */
  #images = new Map<number, KeyChange>();
  readonly #cipher: PageCipher | undefined;

  /** `cipher` is the guest key (undefined on a machine without memory encryption). */
  constructor(memoryBytes: bigint, cipher?: PageCipher) {
    if (memoryBytes <= 0n || memoryBytes % BigInt(PAGE) !== 0n || memoryBytes > MAX_MACHINE_BYTES) {
      throw new PlatformError("BAD_ARGUMENT", `memory size must be a positive multiple of 4 KiB up to 64 GiB (got ${memoryBytes})`, {
        memoryBytes,
      });
    }
    this.bytes = memoryBytes;
    this.pageCount = Number(memoryBytes / BigInt(PAGE));
    this.#cipher = cipher;
  }

  /** The page, or undefined if it was never written (reads as zeros); stores a zero image it touches. Do not retain. */
  page(pfn: number): Uint8Array | undefined {
    return this.#pages.get(pfn) ?? (this.#images.size === 0 ? undefined : this.#materialize(pfn));
  }

  /** The page, allocated (zeroed) if needed. */
  pageForWrite(pfn: number): Uint8Array {
    let p = this.page(pfn);
    if (p === undefined) {
      p = new Uint8Array(PAGE);
      this.#pages.set(pfn, p);
    }
    return p;
  }

  /** Copies `len` bytes at `off` of frame `pfn` into `dst` at `dstOff` (within one page). */
  readInto(pfn: number, off: number, len: number, dst: Uint8Array, dstOff: number): void {
    const p = this.page(pfn);
    if (p === undefined) dst.fill(0, dstOff, dstOff + len);
    else dst.set(len === PAGE ? p : p.subarray(off, off + len), dstOff);
  }

  /** Writes `src[srcOff, srcOff+len)` at `off` of frame `pfn` (within one page). */
  writeFrom(pfn: number, off: number, src: Uint8Array, srcOff: number, len: number): void {
    const chunk = src.subarray(srcOff, srcOff + len);
    let p = this.#pages.get(pfn);
    if (p === undefined && this.#images.size !== 0 && this.#images.has(pfn)) {
      // A whole-page write replaces the zero image; a partial one needs its bytes.
      if (len === PAGE) this.#images.delete(pfn);
      else p = this.#materialize(pfn);
    }
    if (p === undefined) {
      if (isAllZero(chunk)) return;
      p = new Uint8Array(PAGE);
      this.#pages.set(pfn, p);
    }
    p.set(chunk, off);
  }

  /** A copy of the page's stored bytes. */
  copyPage(pfn: number): Uint8Array {
    const p = this.page(pfn);
    return p === undefined ? new Uint8Array(PAGE) : new Uint8Array(p);
  }

  /** Stored pages (zero images count once touched). */
  allocatedPages(): number {
    return this.#pages.size;
  }

  /**
   * The page is now read with the other key (a host RMPUPDATE that changed its owner):
   * its bytes become their XTS encryption (+1) or decryption (-1) at its GPA.
   */
  changeKey(pfn: number, change: KeyChange): void {
    const cipher = this.#needCipher();
    const p = this.#pages.get(pfn);
    if (p !== undefined) {
      p.set(xts(cipher, pfn, change, p));
      return;
    }
    const k = (this.#images.get(pfn) ?? 0) + change;
    if (k === 0) this.#images.delete(pfn);
    else if (k === 1 || k === -1) this.#images.set(pfn, k);
    else {
      // The same way twice (a launch assignment in between keeps the bytes): E(E(0)) or D(D(0)).
      this.#images.delete(pfn);
      this.#pages.set(pfn, new Uint8Array(xts(cipher, pfn, change, xts(cipher, pfn, change, ZERO_PAGE))));
    }
  }

  /** Frames held as zero images (for tests and statistics). */
  zeroImageCount(): number {
    return this.#images.size;
  }

  #materialize(pfn: number): Uint8Array | undefined {
    const k = this.#images.get(pfn);
    if (k === undefined) return undefined;
    const p = new Uint8Array(xts(this.#needCipher(), pfn, k, ZERO_PAGE));
    this.#images.delete(pfn);
    this.#pages.set(pfn, p);
    return p;
  }

  #needCipher(): PageCipher {
    if (this.#cipher === undefined) throw new PlatformError("NOT_SEV", "this memory has no encryption key");
    return this.#cipher;
  }

  snapshot(): MemorySnapshot {
    const pfns = Uint32Array.from([...this.#pages.keys()].sort((a, b) => a - b));
    const data = new Uint8Array(pfns.length * PAGE);
    pfns.forEach((pfn, i) => data.set(this.#pages.get(pfn)!, i * PAGE));
    const images = [...this.#images].sort((a, b) => a[0] - b[0]);
    return {
      pfns,
      data,
      zeroImages: { pfns: Uint32Array.from(images.map(([p]) => p)), changes: Int8Array.from(images.map(([, k]) => k)) },
    };
  }

  restore(s: MemorySnapshot): void {
    if (!(s.pfns instanceof Uint32Array) || !(s.data instanceof Uint8Array) || s.data.length !== s.pfns.length * PAGE) {
      throw new PlatformError("SNAPSHOT", "memory snapshot is malformed");
    }
    const pages = new Map<number, Uint8Array>();
    s.pfns.forEach((pfn, i) => {
      if (pfn >= this.pageCount) throw new PlatformError("SNAPSHOT", `memory snapshot has frame ${pfn} outside memory`);
      pages.set(pfn, s.data.slice(i * PAGE, (i + 1) * PAGE));
    });
    const images = new Map<number, KeyChange>();
    const z = s.zeroImages;
    if (z !== undefined) {
      if (!(z.pfns instanceof Uint32Array) || !(z.changes instanceof Int8Array) || z.changes.length !== z.pfns.length) {
        throw new PlatformError("SNAPSHOT", "memory snapshot zero images are malformed");
      }
      if (z.pfns.length > 0 && this.#cipher === undefined) throw new PlatformError("SNAPSHOT", "memory snapshot has zero images but this memory has no key");
      z.pfns.forEach((pfn, i) => {
        const k = z.changes[i];
        if (pfn >= this.pageCount || pages.has(pfn) || (k !== 1 && k !== -1)) {
          throw new PlatformError("SNAPSHOT", `memory snapshot has a bad zero image at frame ${pfn}`);
        }
        images.set(pfn, k);
      });
    }
    this.#pages = pages;
    this.#images = images;
  }
}

function xts(cipher: PageCipher, pfn: number, change: KeyChange, page: Uint8Array): Uint8Array {
  return change === 1 ? cipher.encryptPage(pfn * PAGE, page) : cipher.decryptPage(pfn * PAGE, page);
}
