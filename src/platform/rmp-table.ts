/**
 * The RMP (SNP.md §4.1): one 16-byte entry per 4 KiB page, kept in one Uint32Array in
 * the raw Zen3/Zen4 layout of shared/spec/rmp.ts — word 0/1 are the low qword (ASSIGNED,
 * PAGE_SIZE, IMMUTABLE, GPA, ASID, VMSA, VALIDATED), word 2 is the low half of the
 * non-architectural high qword, which holds the VMPL0..3 permission masks one byte each
 * (the model's choice, documented in rmp.ts). Word 3 is always zero.
 *
 * Hot paths (`checkPrivate`, `checkShared`) are integer-only. The bit positions are
 * derived from the RMP_LO table at load time.
 *
 * A 2 MiB entry is represented as 512 consistent 4 KiB entries, each with PAGE_SIZE set
 * and its own GPA; 2 MiB operations update all 512.
 */
import { RMP_LO, RMP_PERM_ALL } from "../shared/spec/index.js";
import type { RmpEntryView } from "./api.js";
import { PlatformError } from "./fault.js";

const W = 4; // 32-bit words per entry
export const PAGES_PER_2M = 512;

function loBit(f: { bit: number; width: number }): { word: 0 | 1; shift: number; mask: number } {
  const word = f.bit >= 32 ? 1 : 0;
  const shift = f.bit - word * 32;
  if (shift + f.width > 32) throw new Error("RMP field spans words");
  return { word, shift, mask: (f.width === 32 ? 0xffffffff : ((1 << f.width) - 1) << shift) >>> 0 };
}

const ASSIGNED = loBit(RMP_LO.ASSIGNED);
const PAGE_SIZE_BIT = loBit(RMP_LO.PAGE_SIZE);
const IMMUTABLE = loBit(RMP_LO.IMMUTABLE);
const ASID = loBit(RMP_LO.ASID);
const VMSA_BIT = loBit(RMP_LO.VMSA);
const VALIDATED = loBit(RMP_LO.VALIDATED);
// The GPA frame number spans both words: bits 12..31 of word 0 and 0..(width-21) of word 1.
const GPA_LO_BITS = 32 - RMP_LO.GPA_PFN.bit;
const GPA_HI_MASK = (1 << (RMP_LO.GPA_PFN.width - GPA_LO_BITS)) - 1;
if (ASSIGNED.word !== 0 || PAGE_SIZE_BIT.word !== 0 || IMMUTABLE.word !== 0 || ASID.word !== 1 || VMSA_BIT.word !== 1 || VALIDATED.word !== 1) {
  throw new Error("RMP layout: unexpected word placement");
}

/** Result of the access check on a private (C=1) page. */
export const RMP_CHECK = {
  OK: 0,
  /** Not assigned to this guest at this GPA (or immutable): #NPF. */
  NOT_OWNED: 1,
  /** Assigned but not validated: #VC 0x404. */
  NOT_VALIDATED: 2,
  /** The VMPL's permission mask refuses the access: #NPF with the VMPL bit. */
  VMPL: 3,
} as const;

/** Result of the ownership check of PVALIDATE / RMPADJUST (VeriSMo `fault_rmp_update`). */
export const RMP_OWN = { OK: 0, NOT_OWNED: 1, SIZE_MISMATCH_2M_ENTRY: 2 } as const;

export interface RmpSnapshot {
  /** Indices of non-zero entries, ascending. */
  readonly index: Uint32Array;
  /** Their words 0..2 (word 3 is always zero). */
  readonly words: Uint32Array;
}

export class RmpTable {
  readonly pages: number;
  readonly asid: number;
  #w: Uint32Array;

  constructor(pages: number, asid: number) {
    this.pages = pages;
    this.asid = asid;
    this.#w = new Uint32Array(pages * W);
  }

  // ---------------------------------------------------------------- raw view

  /** The raw 16 bytes of the entry (little-endian, as in memory). */
  raw(pfn: number): Uint8Array {
    this.#check(pfn);
    const out = new Uint8Array(16);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < W; i++) dv.setUint32(i * 4, this.#w[pfn * W + i]!, true);
    return out;
  }

  view(pfn: number): RmpEntryView {
    this.#check(pfn);
    const b = pfn * W;
    const w0 = this.#w[b]!;
    const w1 = this.#w[b + 1]!;
    const w2 = this.#w[b + 2]!;
    return {
      assigned: (w0 & ASSIGNED.mask) !== 0,
      validated: (w1 & VALIDATED.mask) !== 0,
      vmsa: (w1 & VMSA_BIT.mask) !== 0,
      immutable: (w0 & IMMUTABLE.mask) !== 0,
      pageSize: (w0 & PAGE_SIZE_BIT.mask) !== 0 ? 1 : 0,
      asid: (w1 & ASID.mask) >>> ASID.shift,
      perms: [w2 & 0xff, (w2 >>> 8) & 0xff, (w2 >>> 16) & 0xff, (w2 >>> 24) & 0xff],
    };
  }

  /** GPA frame number recorded in the entry. */
  gpaPfn(pfn: number): number {
    const b = pfn * W;
    return (this.#w[b]! >>> RMP_LO.GPA_PFN.bit) + (this.#w[b + 1]! & GPA_HI_MASK) * 2 ** GPA_LO_BITS;
  }

  isAssigned(pfn: number): boolean {
    return (this.#w[pfn * W]! & ASSIGNED.mask) !== 0;
  }
  isImmutable(pfn: number): boolean {
    return (this.#w[pfn * W]! & IMMUTABLE.mask) !== 0;
  }
  isValidated(pfn: number): boolean {
    return (this.#w[pfn * W + 1]! & VALIDATED.mask) !== 0;
  }
  isVmsa(pfn: number): boolean {
    return (this.#w[pfn * W + 1]! & VMSA_BIT.mask) !== 0;
  }
  is2M(pfn: number): boolean {
    return (this.#w[pfn * W]! & PAGE_SIZE_BIT.mask) !== 0;
  }
  perm(pfn: number, vmpl: number): number {
    return (this.#w[pfn * W + 2]! >>> (vmpl * 8)) & 0xff;
  }

  /** Assigned to this guest, at this GPA, not immutable (the guest may use it). */
  #owned(pfn: number): boolean {
    const b = pfn * W;
    const w0 = this.#w[b]!;
    const w1 = this.#w[b + 1]!;
    return (
      (w0 & (ASSIGNED.mask | IMMUTABLE.mask)) === ASSIGNED.mask &&
      (w1 & ASID.mask) >>> ASID.shift === this.asid &&
      this.gpaPfn(pfn) === pfn
    );
  }

  // ---------------------------------------------------------------- access checks

  /**
   * The RMP check of a guest access with C=1 (SNP.md §4.5, VeriSMo order): ownership,
   * then VALIDATED, then the VMPL's mask (`permBit` is one RMP_PERM bit).
   */
  checkPrivate(pfn: number, vmpl: number, permBit: number): number {
    if (!this.#owned(pfn)) return RMP_CHECK.NOT_OWNED;
    const b = pfn * W;
    if ((this.#w[b + 1]! & VALIDATED.mask) === 0) return RMP_CHECK.NOT_VALIDATED;
    if (vmpl !== 0 && ((this.#w[b + 2]! >>> (vmpl * 8)) & permBit) === 0) return RMP_CHECK.VMPL;
    return RMP_CHECK.OK;
  }

  /** The RMP check of a guest access with C=0: the page must be hypervisor-owned. */
  checkShared(pfn: number): boolean {
    return (this.#w[pfn * W]! & ASSIGNED.mask) === 0;
  }

  /** Ownership as PVALIDATE/RMPADJUST see it, for a request of `size` (0 4K, 1 2M). */
  ownership(pfn: number, size: 0 | 1): number {
    if (!this.#owned(pfn)) return RMP_OWN.NOT_OWNED;
    if (size === 0 && this.is2M(pfn)) return RMP_OWN.SIZE_MISMATCH_2M_ENTRY;
    return RMP_OWN.OK;
  }

  // ---------------------------------------------------------------- transitions

  /**
   * RMPUPDATE (host): assigns the page(s) to this guest or returns them to the
   * hypervisor. VALIDATED and VMSA are cleared and the masks reset (VMPL0 full on an
   * assigned page, VMPL1–3 none) — SNP.md §4.2. Refuses immutable pages; a 4 KiB update
   * inside a 2 MiB entry is FAIL_OVERLAP (the model has no PSMASH).
   */
  update(pfn: number, assigned: boolean, size: 0 | 1): void {
    this.#check(pfn);
    const n = size === 1 ? PAGES_PER_2M : 1;
    if (size === 1 && (pfn % PAGES_PER_2M !== 0 || pfn + n > this.pages)) {
      throw new PlatformError("BAD_ARGUMENT", "RMPUPDATE of a 2 MiB page needs a 2 MiB-aligned GPA inside memory", { pfn });
    }
    for (let i = 0; i < n; i++) {
      if (this.isImmutable(pfn + i)) {
        throw new PlatformError("IMMUTABLE_PAGE", `RMPUPDATE refused: page 0x${(pfn + i).toString(16)} is immutable`, { pfn: pfn + i });
      }
    }
    if (size === 0 && this.is2M(pfn) && this.isAssigned(pfn)) {
      throw new PlatformError("BAD_ARGUMENT", "RMPUPDATE FAIL_OVERLAP: 4 KiB update inside a 2 MiB entry (PSMASH is not modelled)", {
        pfn,
      });
    }
    for (let i = 0; i < n; i++) {
      const p = pfn + i;
      if (assigned) this.#write(p, { assigned: true, size, asid: this.asid, gpaPfn: p, validated: false, vmsa: false, immutable: false, perms: RMP_PERM_ALL });
      else this.#write(p, { assigned: false, size: 0, asid: 0, gpaPfn: 0, validated: false, vmsa: false, immutable: false, perms: 0 });
    }
  }

  /**
   * The RMP transition of SNP_LAUNCH_UPDATE: assigned, validated, VMPL0 full, the given
   * VMPL1..3 masks, VMSA flag for VMSA pages. Fails on a page that is already assigned.
   */
  launchAssign(pfn: number, vmplPerms: readonly [number, number, number], vmsa: boolean): void {
    this.#check(pfn);
    if (this.isAssigned(pfn) || this.isImmutable(pfn)) {
      throw new PlatformError("LAUNCH_STATE", `LAUNCH_UPDATE: page 0x${pfn.toString(16)}000 is already assigned`, { pfn });
    }
    let perms = RMP_PERM_ALL;
    vmplPerms.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 0 || m > RMP_PERM_ALL) throw new PlatformError("BAD_ARGUMENT", `bad VMPL${i + 1} mask ${m}`);
      perms |= m << ((i + 1) * 8);
    });
    this.#write(pfn, { assigned: true, size: 0, asid: this.asid, gpaPfn: pfn, validated: true, vmsa, immutable: false, perms: perms >>> 0 });
  }

  /** Firmware-only: mark a page immutable (pages the ASP is working on). */
  setImmutable(pfn: number, on: boolean): void {
    this.#check(pfn);
    this.#w[pfn * W] = on ? (this.#w[pfn * W]! | IMMUTABLE.mask) >>> 0 : (this.#w[pfn * W]! & ~IMMUTABLE.mask) >>> 0;
  }

  setValidated(pfn: number, on: boolean): void {
    const i = pfn * W + 1;
    this.#w[i] = on ? (this.#w[i]! | VALIDATED.mask) >>> 0 : (this.#w[i]! & ~VALIDATED.mask) >>> 0;
  }

  setVmsa(pfn: number, on: boolean): void {
    const i = pfn * W + 1;
    this.#w[i] = on ? (this.#w[i]! | VMSA_BIT.mask) >>> 0 : (this.#w[i]! & ~VMSA_BIT.mask) >>> 0;
  }

  setPerm(pfn: number, vmpl: number, mask: number): void {
    const i = pfn * W + 2;
    const shift = vmpl * 8;
    this.#w[i] = ((this.#w[i]! & ~(0xff << shift)) | ((mask & 0xff) << shift)) >>> 0;
  }

  // ---------------------------------------------------------------- snapshot

  snapshot(): RmpSnapshot {
    const idx: number[] = [];
    const w = this.#w;
    for (let p = 0; p < this.pages; p++) {
      const b = p * W;
      if (w[b] !== 0 || w[b + 1] !== 0 || w[b + 2] !== 0) idx.push(p);
    }
    const index = Uint32Array.from(idx);
    const words = new Uint32Array(index.length * 3);
    index.forEach((p, i) => words.set(w.subarray(p * W, p * W + 3), i * 3));
    return { index, words };
  }

  restore(s: RmpSnapshot): void {
    if (!(s.index instanceof Uint32Array) || !(s.words instanceof Uint32Array) || s.words.length !== s.index.length * 3) {
      throw new PlatformError("SNAPSHOT", "RMP snapshot is malformed");
    }
    const w = new Uint32Array(this.pages * W);
    s.index.forEach((p, i) => {
      if (p >= this.pages) throw new PlatformError("SNAPSHOT", `RMP snapshot has entry ${p} outside memory`);
      w.set(s.words.subarray(i * 3, i * 3 + 3), p * W);
    });
    this.#w = w;
  }

  // ---------------------------------------------------------------- internals

  #write(
    pfn: number,
    e: { assigned: boolean; size: 0 | 1; asid: number; gpaPfn: number; validated: boolean; vmsa: boolean; immutable: boolean; perms: number },
  ): void {
    const b = pfn * W;
    let w0 = (e.gpaPfn % 2 ** GPA_LO_BITS) << RMP_LO.GPA_PFN.bit;
    if (e.assigned) w0 |= ASSIGNED.mask;
    if (e.size === 1) w0 |= PAGE_SIZE_BIT.mask;
    if (e.immutable) w0 |= IMMUTABLE.mask;
    let w1 = Math.floor(e.gpaPfn / 2 ** GPA_LO_BITS) & GPA_HI_MASK;
    w1 |= (e.asid << ASID.shift) & ASID.mask;
    if (e.vmsa) w1 |= VMSA_BIT.mask;
    if (e.validated) w1 |= VALIDATED.mask;
    this.#w[b] = w0 >>> 0;
    this.#w[b + 1] = w1 >>> 0;
    this.#w[b + 2] = e.perms >>> 0;
    this.#w[b + 3] = 0;
  }

  #check(pfn: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.pages) {
      throw new PlatformError("BAD_GPA", `GPA 0x${(pfn * 4096).toString(16)} is outside guest memory`, { pfn });
    }
  }
}
