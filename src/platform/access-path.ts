/**
 * The one access path (SNP.md §4.5, ARCHITECTURE.md "The platform model"): every guest
 * memory access — virtual or physical, by the guest kernel or the agent — goes through
 * here. Virtual accesses walk the guest's own page tables (x86-64 4-level, 5-level with
 * CR4.LA57; 2 MiB and 1 GiB pages; NX with EFER.NXE; U/S with CPL; R/W with CR0.WP;
 * SMEP/SMAP; the C-bit marks private vs shared and is masked out of addresses); every
 * page-table read is itself RMP-checked; then the final GPA gets the RMP check for the
 * context's VMPL and access kind.
 *
 * There is no TLB: every access walks. The walk is a bounded loop over at most five
 * levels, so no table (cyclic, self-referencing, garbage) can make it loop.
 *
 * Registers come straight from the VMSA page bytes (CR0, CR3, CR4, EFER, RFLAGS.AC, CPL).
 * Addresses are split into 32-bit halves and GPAs are numbers (< 2^52): no bigint work on
 * the hot path. A/D bits are not set (the model never writes page tables on a walk).
 */
import {
  CR0_PG,
  CR0_WP,
  CR4_LA57,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  NPF_EXITINFO1 as N,
  PF_ERROR,
  RMP_PERM,
} from "../shared/spec/index.js";
import { PlatformError } from "./fault.js";
import type { GuestMemory } from "./memory.js";
import { PAGE } from "./memory.js";
import { K_FETCH, K_READ, K_WRITE, accessKind, gp, npf, npfAccessBits, pf, pfAccessBits, vaOf, vcNotValidated } from "./raise.js";
import { RMP_CHECK } from "./rmp-table.js";
import type { RmpTable } from "./rmp-table.js";
import { VMSA_OFF, rd32 } from "./vmsa-regs.js";

const TWO32 = 4294967296;
const CR0_PG_W = Number(CR0_PG);
const CR0_WP_W = Number(CR0_WP);
const CR4_LA57_W = Number(CR4_LA57);
const CR4_SMEP_W = Number(CR4_SMEP);
const CR4_SMAP_W = Number(CR4_SMAP);
const EFER_NXE_W = Number(EFER_NXE);
/** RFLAGS.AC (bit 18): SMAP is overridden while it is set. */
const RFLAGS_AC_W = 1 << 18;
const P = 0x1;
const RW = 0x2;
const US = 0x4;
const PS = 0x80;

/** Who is accessing: the VMSA holding the paging registers, and the VMSA's VMPL. */
export interface AccessContext {
  readonly vmsa: Uint8Array;
  readonly vmpl: number;
}

export class AccessPath {
  readonly #mem: GuestMemory;
  /** Undefined on a non-SEV machine: no RMP checks. */
  readonly #rmp: RmpTable | undefined;
  readonly #cbShift: number;
  readonly #hiAddrMask: number;
  readonly #memBytes: number;
  /** Output of `translate`: the GPA and whether the final entry had C=1. */
  outGpa = 0;
  outPriv = true;

  constructor(mem: GuestMemory, rmp: RmpTable | undefined, cBit: number) {
    if (!Number.isInteger(cBit) || cBit < 32 || cBit > 51) throw new PlatformError("BAD_ARGUMENT", `C-bit position must be 32..51 (got ${cBit})`);
    this.#mem = mem;
    this.#rmp = rmp;
    this.#cbShift = cBit - 32;
    this.#hiAddrMask = (1 << (cBit - 32)) - 1;
    this.#memBytes = Number(mem.bytes);
  }

  // ------------------------------------------------------------------ virtual

  readVirt(ctx: AccessContext, va: bigint, len: number, kind: number = K_READ): Uint8Array {
    checkLen(len);
    const out = new Uint8Array(len);
    let lo = Number(BigInt.asUintN(32, va));
    let hi = Number(BigInt.asUintN(32, va >> 32n));
    let done = 0;
    while (done < len) {
      const off = lo & 0xfff;
      const n = Math.min(len - done, PAGE - off);
      this.translate(ctx, lo, hi, kind);
      const g = this.outGpa;
      this.checkFinal(ctx, g, this.outPriv, kind, lo, hi);
      this.#mem.readInto((g - off) / PAGE, off, n, out, done);
      done += n;
      lo += n;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi = (hi + 1) >>> 0;
      }
    }
    return out;
  }

  /** Checks every page first, then writes: a faulting write has no effect. */
  writeVirt(ctx: AccessContext, va: bigint, data: Uint8Array): void {
    const len = data.length;
    let lo = Number(BigInt.asUintN(32, va));
    let hi = Number(BigInt.asUintN(32, va >> 32n));
    const off0 = lo & 0xfff;
    if (off0 + len <= PAGE) {
      if (len === 0) return;
      this.translate(ctx, lo, hi, K_WRITE);
      const g = this.outGpa;
      this.checkFinal(ctx, g, this.outPriv, K_WRITE, lo, hi);
      this.#mem.writeFrom((g - off0) / PAGE, off0, data, 0, len);
      return;
    }
    const pfns: number[] = [];
    const offs: number[] = [];
    const lens: number[] = [];
    let done = 0;
    while (done < len) {
      const off = lo & 0xfff;
      const n = Math.min(len - done, PAGE - off);
      this.translate(ctx, lo, hi, K_WRITE);
      const g = this.outGpa;
      this.checkFinal(ctx, g, this.outPriv, K_WRITE, lo, hi);
      pfns.push((g - off) / PAGE);
      offs.push(off);
      lens.push(n);
      done += n;
      lo += n;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi = (hi + 1) >>> 0;
      }
    }
    let at = 0;
    for (let i = 0; i < pfns.length; i++) {
      this.#mem.writeFrom(pfns[i]!, offs[i]!, data, at, lens[i]!);
      at += lens[i]!;
    }
  }

  // ------------------------------------------------------------------ physical

  /** Physical read as code with an identity map makes it: C=1 unless `shared`. */
  readPhys(ctx: AccessContext, gpa: bigint, len: number, shared: boolean): Uint8Array {
    checkLen(len);
    const out = new Uint8Array(len);
    this.readPhysInto(ctx, gpa, out, 0, len, shared);
    return out;
  }

  /**
   * `readPhys` into `dst[dstOff, dstOff + len)`: the same checks and faults, one RMP check
   * per page, each page copied straight from the page store (no buffer per page). Pages
   * are checked and copied in order, so a fault leaves the bytes of the pages before the
   * faulting one written and the rest of `dst` untouched.
   */
  readPhysInto(ctx: AccessContext, gpa: bigint, dst: Uint8Array, dstOff: number, len: number, shared: boolean): void {
    checkRange(dst, dstOff, len);
    const priv = !shared;
    const user = this.#physStart(ctx, gpa, len, priv, K_READ);
    let g = Number(gpa);
    let done = 0;
    while (done < len) {
      const off = g % PAGE;
      const n = Math.min(len - done, PAGE - off);
      this.#checkGpa(ctx.vmpl, g, priv, K_READ, user, false, false, 0, 0);
      this.#mem.readInto((g - off) / PAGE, off, n, dst, dstOff + done);
      done += n;
      g += n;
    }
  }

  writePhys(ctx: AccessContext, gpa: bigint, data: Uint8Array, shared: boolean): void {
    this.writePhysFrom(ctx, gpa, data, 0, data.length, shared);
  }

  /**
   * `writePhys` of `src[srcOff, srcOff + len)`: every page is checked first, then written,
   * so a faulting write has no effect.
   */
  writePhysFrom(ctx: AccessContext, gpa: bigint, src: Uint8Array, srcOff: number, len: number, shared: boolean): void {
    checkRange(src, srcOff, len);
    const priv = !shared;
    const user = this.#physStart(ctx, gpa, len, priv, K_WRITE);
    const first = Number(gpa);
    let g = first;
    let done = 0;
    while (done < len) {
      const n = Math.min(len - done, PAGE - (g % PAGE));
      this.#checkGpa(ctx.vmpl, g, priv, K_WRITE, user, false, false, 0, 0);
      done += n;
      g += n;
    }
    g = first;
    done = 0;
    while (done < len) {
      const off = g % PAGE;
      const n = Math.min(len - done, PAGE - off);
      this.#mem.writeFrom((g - off) / PAGE, off, src, srcOff + done, n);
      done += n;
      g += n;
    }
  }

  /** The checks before the first page of a physical access; returns whether it is a CPL 3 access. */
  #physStart(ctx: AccessContext, gpa: bigint, len: number, priv: boolean, kind: number): boolean {
    if (gpa < 0n) throw new PlatformError("BAD_GPA", "negative GPA", { gpa });
    const user = (ctx.vmsa[VMSA_OFF.cpl]! & 3) === 3;
    if (len !== 0 && gpa >= BigInt(this.#memBytes)) {
      throw npf(gpa, npfAccessBits(kind, user) | N.FINAL | (priv && this.#rmp ? N.ENC : 0n), {
        access: accessKind(kind, user),
        vmpl: ctx.vmpl,
        reason: "GPA outside guest memory (no nested mapping)",
      });
    }
    return user;
  }

  // ------------------------------------------------------------------ the walk

  /**
   * Translates the virtual address (lo, hi) for an access of `kind` in `ctx`. Sets
   * `outGpa` / `outPriv`. Throws CpuFault: #GP (non-canonical), #PF (guest tables),
   * #NPF with PAGE_WALK or #VC (RMP check of a table page).
   */
  translate(ctx: AccessContext, lo: number, hi: number, kind: number): void {
    const vmsa = ctx.vmsa;
    const cr0 = rd32(vmsa, VMSA_OFF.cr0);
    if ((cr0 & CR0_PG_W) === 0) {
      // Paging off: identity; every access is private (C=1).
      if (hi >= 0x100000) {
        const user = (vmsa[VMSA_OFF.cpl]! & 3) === 3;
        throw npf(vaOf(lo, hi), npfAccessBits(kind, user) | N.FINAL | (this.#rmp ? N.ENC : 0n), {
          access: accessKind(kind, user),
          vmpl: ctx.vmpl,
          reason: "GPA outside guest memory (no nested mapping)",
          va: vaOf(lo, hi),
        });
      }
      this.outGpa = hi * TWO32 + lo;
      this.outPriv = true;
      return;
    }
    const user = (vmsa[VMSA_OFF.cpl]! & 3) === 3;
    const cr4 = rd32(vmsa, VMSA_OFF.cr4);
    const efer = rd32(vmsa, VMSA_OFF.efer);
    const nxe = (efer & EFER_NXE_W) !== 0;
    const smep = (cr4 & CR4_SMEP_W) !== 0;
    const la57 = (cr4 & CR4_LA57_W) !== 0;
    const top = la57 ? hi >>> 24 : hi >>> 15;
    if (top !== 0 && top !== (la57 ? 0xff : 0x1ffff)) {
      throw gp({ access: accessKind(kind, user), vmpl: ctx.vmpl, reason: "non-canonical address", va: vaOf(lo, hi) });
    }
    const sev = this.#rmp !== undefined;
    const cbs = this.#cbShift;
    const hm = this.#hiAddrMask;
    const cr3lo = rd32(vmsa, VMSA_OFF.cr3);
    const cr3hi = rd32(vmsa, VMSA_OFF.cr3 + 4);
    let tPriv = sev && ((cr3hi >>> cbs) & 1) === 1;
    let table = (cr3hi & hm) * TWO32 + ((cr3lo & 0xfffff000) >>> 0);
    let allU = US;
    let allW = RW;
    let anyNx = 0;
    for (let level = la57 ? 5 : 4; level >= 1; level--) {
      let idx: number;
      switch (level) {
        case 5:
          idx = (hi >>> 16) & 0x1ff;
          break;
        case 4:
          idx = (hi >>> 7) & 0x1ff;
          break;
        case 3:
          idx = ((hi & 0x7f) << 2) | (lo >>> 30);
          break;
        case 2:
          idx = (lo >>> 21) & 0x1ff;
          break;
        default:
          idx = (lo >>> 12) & 0x1ff;
      }
      const entryGpa = table + idx * 8;
      this.#checkGpa(ctx.vmpl, entryGpa, tPriv, K_READ, user, true, true, lo, hi);
      const page = this.#mem.page(table / PAGE);
      let elo = 0;
      let ehi = 0;
      if (page !== undefined) {
        elo = rd32(page, idx * 8);
        ehi = rd32(page, idx * 8 + 4);
      }
      if ((elo & P) === 0) {
        throw pf(vaOf(lo, hi), pfAccessBits(kind, user, nxe || smep), {
          access: accessKind(kind, user),
          vmpl: ctx.vmpl,
          reason: `not present at level ${level}`,
        });
      }
      const ps = (elo & PS) !== 0;
      if ((!nxe && ehi >>> 31 === 1) || (ps && level >= 4) || (ps && level === 3 && (elo & 0x3fffe000) !== 0) || (ps && level === 2 && (elo & 0x001fe000) !== 0)) {
        throw pf(vaOf(lo, hi), PF_ERROR.P | PF_ERROR.RSVD | pfAccessBits(kind, user, nxe || smep), {
          access: accessKind(kind, user),
          vmpl: ctx.vmpl,
          reason: `reserved bit set at level ${level}`,
        });
      }
      allU &= elo;
      allW &= elo;
      anyNx |= ehi >>> 31;
      const ePriv = sev && ((ehi >>> cbs) & 1) === 1;
      const eHi = (ehi & hm) * TWO32;
      if (level === 1 || ps) {
        const g =
          level === 3
            ? eHi + ((elo & 0xc0000000) >>> 0) + (lo & 0x3fffffff)
            : level === 2
              ? eHi + ((elo & 0xffe00000) >>> 0) + (lo & 0x1fffff)
              : eHi + ((elo & 0xfffff000) >>> 0) + (lo & 0xfff);
        this.#protection(ctx, lo, hi, kind, user, allU !== 0, allW !== 0, anyNx !== 0, nxe, smep, cr0, cr4);
        this.outGpa = g;
        this.outPriv = ePriv;
        return;
      }
      table = eHi + ((elo & 0xfffff000) >>> 0);
      tPriv = ePriv;
    }
  }

  #protection(
    ctx: AccessContext,
    lo: number,
    hi: number,
    kind: number,
    user: boolean,
    userPage: boolean,
    writable: boolean,
    nx: boolean,
    nxe: boolean,
    smep: boolean,
    cr0: number,
    cr4: number,
  ): void {
    let why: string | undefined;
    if (user && !userPage) why = "user access to a supervisor page";
    else if (kind === K_FETCH) {
      if (nxe && nx) why = "fetch from an NX page";
      else if (!user && userPage && smep) why = "SMEP: supervisor fetch from a user page";
    } else {
      if (kind === K_WRITE && !writable && (user || (cr0 & CR0_WP_W) !== 0)) why = "write to a read-only page";
      else if (!user && userPage && (cr4 & CR4_SMAP_W) !== 0 && (rd32(ctx.vmsa, VMSA_OFF.rflags) & RFLAGS_AC_W) === 0) {
        why = "SMAP: supervisor data access to a user page";
      }
    }
    if (why !== undefined) {
      throw pf(vaOf(lo, hi), PF_ERROR.P | pfAccessBits(kind, user, nxe || smep), { access: accessKind(kind, user), vmpl: ctx.vmpl, reason: why });
    }
  }

  // ------------------------------------------------------------------ the RMP check

  /** The RMP check of the final GPA of a virtual access (range, then SNP.md §4.5). */
  checkFinal(ctx: AccessContext, gpa: number, priv: boolean, kind: number, lo: number, hi: number): void {
    const user = (ctx.vmsa[VMSA_OFF.cpl]! & 3) === 3;
    this.#checkGpa(ctx.vmpl, gpa, priv, kind, user, false, true, lo, hi);
  }

  /**
   * RMP check of one GPA (`walk`: a page-table read, reported with PAGE_WALK instead of
   * FINAL). C=1: owned by this guest at this GPA (#NPF RMP|ENC), validated (#VC 0x404),
   * allowed by the VMPL's mask (#NPF RMP|VMPL|ENC). C=0: not assigned (#NPF RMP).
   */
  #checkGpa(vmpl: number, gpa: number, priv: boolean, kind: number, user: boolean, walk: boolean, virt: boolean, lo: number, hi: number): void {
    const where = walk ? N.PAGE_WALK : N.FINAL;
    if (gpa >= this.#memBytes) {
      throw npf(gpa, (walk ? N.U : npfAccessBits(kind, user)) | where | (priv && this.#rmp ? N.ENC : 0n), {
        access: accessKind(kind, user),
        vmpl,
        reason: walk ? "page table outside guest memory" : "GPA outside guest memory (no nested mapping)",
        va: virt ? vaOf(lo, hi) : undefined,
      });
    }
    const rmp = this.#rmp;
    if (rmp === undefined) return;
    const pfn = Math.floor(gpa / PAGE);
    if (priv) {
      const permBit = kind === K_READ ? RMP_PERM.READ : kind === K_WRITE ? RMP_PERM.WRITE : user ? RMP_PERM.EXEC_USER : RMP_PERM.EXEC_SUPER;
      const r = rmp.checkPrivate(pfn, vmpl, permBit);
      if (r === RMP_CHECK.OK) return;
      const va = virt ? vaOf(lo, hi) : undefined;
      const bits = N.P | (walk ? N.U : npfAccessBits(kind, user)) | where | N.RMP | N.ENC;
      if (r === RMP_CHECK.NOT_VALIDATED) throw vcNotValidated(gpa, { access: accessKind(kind, user), vmpl, va });
      if (r === RMP_CHECK.VMPL) {
        throw npf(gpa, bits | N.VMPL, { access: accessKind(kind, user), vmpl, reason: `VMPL${vmpl} permission mask refuses the access`, va });
      }
      throw npf(gpa, bits, { access: accessKind(kind, user), vmpl, reason: "private access to a page not assigned to this guest at this GPA", va });
    }
    if (!rmp.checkShared(pfn)) {
      const va = virt ? vaOf(lo, hi) : undefined;
      throw npf(gpa, N.P | (walk ? N.U : npfAccessBits(kind, user)) | where | N.RMP, {
        access: accessKind(kind, user),
        vmpl,
        reason: "shared (C=0) access to a guest-assigned page",
        va,
      });
    }
  }
}

function checkLen(len: number): void {
  if (!Number.isInteger(len) || len < 0) throw new PlatformError("BAD_ARGUMENT", `bad access length ${len}`);
}

/** `buf[off, off + len)` must be a range of the buffer. */
function checkRange(buf: Uint8Array, off: number, len: number): void {
  checkLen(len);
  if (!(buf instanceof Uint8Array) || !Number.isInteger(off) || off < 0 || off + len > buf.length) {
    throw new PlatformError("BAD_ARGUMENT", `bad buffer range: offset ${off}, length ${len} of a ${buf instanceof Uint8Array ? buf.length : "non"}-byte buffer`, {
      offset: off,
      length: len,
    });
  }
}

export { K_FETCH, K_READ, K_WRITE };
