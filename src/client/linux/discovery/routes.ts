/**
 * The routes that locate a Linux kernel in guest memory with no help.
 *
 * banner (memory only): linux_banner's physical address has the same low 21 bits as its
 *   System.map address (both placements move in 2 MiB steps), so one probe per 2 MiB of
 *   memory finds "Linux version …"; the image is physically contiguous, so _text and
 *   init_top_pgt follow; the virtual slide is the one 2 MiB step for which linux_banner,
 *   translated through init_top_pgt, lands on the banner.
 * swapper (memory only, Volatility's): init_task's comm "swapper/0" probed the same way;
 *   init_task.pid must be 0, and its pointers to static objects (&init_cred, &init_files…)
 *   give the virtual slide.
 * idt (registers): IDTR → gate 0's handler − asm_exc_divide_error.
 * lstar (registers with MSRs): MSR_LSTAR − entry_SYSCALL_64.
 */
import { readU32, readU64 } from "../../../shared/base/index.js";
import type { Profile } from "../../../shared/kernel/index.js";
import { type Vmi, VmiError, dtbVa, type VcpuRegisters } from "../../vmi/index.js";
import { KERNEL_ALIGN_MASK, KERNEL_IMAGE_SIZE, KERNEL_ALIGN, START_KERNEL_MAP, isKernelPointer } from "../constants.js";
import { alignedCandidates, probe } from "./probe.js";
import type { RouteResult } from "./types.js";

const enc = new TextEncoder();

function syms(profile: Profile, names: readonly string[]): Record<string, bigint> | string {
  const out: Record<string, bigint> = {};
  const missing = names.filter((n) => {
    const a = profile.symbolAddress(n);
    if (a !== undefined) out[n] = a;
    return a === undefined;
  });
  return missing.length > 0 ? `profile lacks ${missing.join(", ")}` : out;
}

/** The 2 MiB-step virtual slides that keep the image inside the kernel-image window. */
export function candidateSlides(text: bigint, end: bigint): bigint[] {
  const out: bigint[] = [];
  for (let s = 0n; text + s + (end - text) <= START_KERNEL_MAP + KERNEL_IMAGE_SIZE; s += KERNEL_ALIGN) out.push(s);
  return out;
}

/** Slides for which `symbol + slide` translates through `dtb` to `expectPa` (one batched walk). */
export async function slidesMapping(vmi: Vmi, dtb: bigint, symbol: bigint, expectPa: bigint, slides: readonly bigint[]): Promise<bigint[]> {
  const walks = await vmi.pageWalkMany(slides.map((s) => ({ dtb, va: symbol + s })));
  return slides.filter((_, i) => {
    const w = walks[i]!;
    return !(w instanceof VmiError) && w.pa === expectPa;
  });
}

function elapsed(t0: number): number {
  return performance.now() - t0;
}

export interface MemoryRouteFind extends RouteResult {
  readonly bannerPa?: bigint;
}

export async function bannerRoute(vmi: Vmi, profile: Profile, batch: number): Promise<MemoryRouteFind> {
  const t0 = performance.now();
  const s = syms(profile, ["linux_banner", "_text", "_end", "init_top_pgt"]);
  if (typeof s === "string") return { route: "banner", status: "skipped", ms: elapsed(t0), note: s };
  const expected = profile.banner;
  const sig = enc.encode(expected !== undefined ? expected.slice(0, 256) : "Linux version ");
  const cands = alignedCandidates(vmi, s["linux_banner"]!, sig.length);
  const hits = await probe(vmi, cands, sig.length, sig, batch);
  const slides = candidateSlides(s["_text"]!, s["_end"]!);
  const found: { pa: bigint; physText: bigint; slide: bigint }[] = [];
  for (const h of hits) {
    const physText = h.pa - (s["linux_banner"]! - s["_text"]!);
    if (physText < 0n || (physText & KERNEL_ALIGN_MASK) !== 0n) continue;
    const dtb = physText + (s["init_top_pgt"]! - s["_text"]!);
    const ok = await slidesMapping(vmi, dtb, s["linux_banner"]!, h.pa, slides);
    if (ok.length === 1) found.push({ pa: h.pa, physText, slide: ok[0]! });
  }
  const base = { route: "banner" as const, probed: cands.length, hits: hits.length, ms: elapsed(t0) };
  if (found.length === 0) {
    return { ...base, status: "not-found", note: hits.length === 0 ? "no banner at the System.map alignment" : "no banner copy is mapped by its own init_top_pgt" };
  }
  if (found.length > 1) {
    return { ...base, status: "not-found", note: `${found.length} self-consistent kernel images (ambiguous)` };
  }
  const f = found[0]!;
  return { ...base, status: "found", virtSlide: f.slide, physText: f.physText, bannerPa: f.pa };
}

/**
 * Pointers init_task holds to statically allocated kernel objects (INIT_TASK in
 * init/init_task.c). active_mm is not one of them: the idle task borrows the last user mm
 * (lazy TLB). Each pair votes for a slide; two agreeing votes are needed.
 */
const INIT_TASK_POINTERS: readonly (readonly [string, string])[] = [
  ["real_cred", "init_cred"],
  ["cred", "init_cred"],
  ["files", "init_files"],
  ["fs", "init_fs"],
  ["nsproxy", "init_nsproxy"],
  ["signal", "init_signals"],
  ["sighand", "init_sighand"],
];

export async function swapperRoute(vmi: Vmi, profile: Profile, batch: number): Promise<RouteResult> {
  const t0 = performance.now();
  const s = syms(profile, ["init_task", "_text", "_end", "init_top_pgt"]);
  if (typeof s === "string") return { route: "swapper", status: "skipped", ms: elapsed(t0), note: s };
  const comm = profile.findMember("task_struct", "comm");
  const pid = profile.findMember("task_struct", "pid");
  const tasks = profile.findMember("task_struct", "tasks");
  const voters = INIT_TASK_POINTERS.flatMap(([m, sym]) => {
    const info = profile.findMember("task_struct", m);
    const addr = profile.symbolAddress(sym);
    return info !== undefined && addr !== undefined ? [{ offset: info.offset, addr }] : [];
  });
  if (!comm || !pid || !tasks || voters.length < 2) {
    return { route: "swapper", status: "skipped", ms: elapsed(t0), note: "profile lacks task_struct.comm/pid/tasks or the init_* objects" };
  }
  const sig = enc.encode("swapper/0\0");
  const cands = alignedCandidates(vmi, s["init_task"]! + BigInt(comm.offset), sig.length);
  const hits = await probe(vmi, cands, sig.length, sig, batch);
  const slides = candidateSlides(s["_text"]!, s["_end"]!);
  const found: { physText: bigint; slide: bigint }[] = [];
  for (const h of hits) {
    const taskPa = h.pa - BigInt(comm.offset);
    const physText = taskPa - (s["init_task"]! - s["_text"]!);
    if (physText < 0n || (physText & KERNEL_ALIGN_MASK) !== 0n) continue;
    const [b] = await vmi.readManySettled([{ ctx: { kind: "pa", addr: taskPa }, len: comm.offset }]);
    if (b === undefined || b instanceof VmiError) continue;
    if (readU32(b, pid.offset) !== 0) continue;
    if (!isKernelPointer(readU64(b, tasks.offset)) || !isKernelPointer(readU64(b, tasks.offset + 8))) continue;
    const votes = new Map<bigint, number>();
    for (const v of voters) {
      if (v.offset + 8 > b.length) continue;
      const slide = BigInt.asUintN(64, readU64(b, v.offset) - v.addr);
      if ((slide & KERNEL_ALIGN_MASK) === 0n && slides.includes(slide)) votes.set(slide, (votes.get(slide) ?? 0) + 1);
    }
    const best = [...votes].sort((a, c) => c[1] - a[1])[0];
    if (best === undefined || best[1] < 2) continue;
    // The slide must map init_task onto the place we found it, through init_top_pgt.
    const dtb = physText + (s["init_top_pgt"]! - s["_text"]!);
    const ok = await slidesMapping(vmi, dtb, s["init_task"]!, taskPa, [best[0]]);
    if (ok.length === 1) found.push({ physText, slide: best[0] });
  }
  const base = { route: "swapper" as const, probed: cands.length, hits: hits.length, ms: elapsed(t0) };
  if (found.length !== 1) return { ...base, status: "not-found", note: found.length === 0 ? "no valid init_task" : `${found.length} candidate init_tasks (ambiguous)` };
  return { ...base, status: "found", virtSlide: found[0]!.slide, physText: found[0]!.physText };
}

/** Handler address of a 16-byte IDT gate. */
export function gateHandler(g: Uint8Array, off = 0): bigint {
  const lo = BigInt(g[off]! | (g[off + 1]! << 8));
  const mid = BigInt(g[off + 6]! | (g[off + 7]! << 8));
  const hi = BigInt(readU32(g, off + 8));
  return lo | (mid << 16n) | (hi << 32n);
}

async function physOfText(vmi: Vmi, cr3: bigint, text: bigint, slide: bigint): Promise<bigint | undefined> {
  const [w] = await vmi.pageWalkMany([{ dtb: cr3, va: text + slide }]);
  return w === undefined || w instanceof VmiError ? undefined : w.pa;
}

export async function registerRoutes(vmi: Vmi, profile: Profile, vcpus: readonly VcpuRegisters[]): Promise<RouteResult[]> {
  const out: RouteResult[] = [];
  const s = syms(profile, ["_text", "_end", "asm_exc_divide_error"]);
  const withIdt = vcpus.find((v) => v.known.has("idtr") && v.known.has("cr3") && v.regs.cr3 !== 0n);
  let t0 = performance.now();
  if (typeof s === "string") out.push({ route: "idt", status: "skipped", ms: elapsed(t0), note: s });
  else if (!withIdt) out.push({ route: "idt", status: "skipped", ms: elapsed(t0), note: "no vCPU with IDTR and CR3" });
  else {
    const r = withIdt.regs;
    try {
      const gate = await vmi.read(dtbVa(r.cr3, r.idtr.base), 16);
      const slide = BigInt.asUintN(64, gateHandler(gate) - s["asm_exc_divide_error"]!);
      const plausible = (slide & KERNEL_ALIGN_MASK) === 0n && candidateSlides(s["_text"]!, s["_end"]!).includes(slide);
      if (!plausible) out.push({ route: "idt", status: "not-found", ms: elapsed(t0), note: `gate 0 handler gives an impossible slide 0x${slide.toString(16)}` });
      else {
        const physText = await physOfText(vmi, r.cr3, s["_text"]!, slide);
        out.push({ route: "idt", status: "found", virtSlide: slide, ...(physText !== undefined ? { physText } : {}), ms: elapsed(t0), note: `vCPU ${withIdt.vcpu}` });
      }
    } catch (e) {
      if (!(e instanceof VmiError)) throw e;
      out.push({ route: "idt", status: "not-found", ms: elapsed(t0), note: `IDT unreadable: ${e.code}` });
    }
  }
  t0 = performance.now();
  const lstarSym = profile.symbolAddress("entry_SYSCALL_64");
  const withLstar = vcpus.find((v) => v.known.has("lstar") && v.regs.lstar !== 0n);
  if (lstarSym === undefined || typeof s === "string") out.push({ route: "lstar", status: "skipped", ms: elapsed(t0), note: "profile lacks entry_SYSCALL_64" });
  else if (!withLstar) out.push({ route: "lstar", status: "skipped", ms: elapsed(t0), note: "registers hold no MSR_LSTAR" });
  else {
    const slide = BigInt.asUintN(64, withLstar.regs.lstar - lstarSym);
    const plausible = (slide & KERNEL_ALIGN_MASK) === 0n && candidateSlides(s["_text"]!, s["_end"]!).includes(slide);
    out.push(
      plausible
        ? { route: "lstar", status: "found", virtSlide: slide, ms: elapsed(t0), note: `vCPU ${withLstar.vcpu}` }
        : { route: "lstar", status: "not-found", ms: elapsed(t0), note: `LSTAR 0x${withLstar.regs.lstar.toString(16)} is not entry_SYSCALL_64 at any slide` },
    );
  }
  return out;
}
