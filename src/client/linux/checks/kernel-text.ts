/**
 * kernel-text: SHA-256 of every 4 KiB page of kernel text [_stext, _etext) against a
 * baseline the owner recorded when the system was known good (the first run with an
 * empty store records it). Changed pages are reported as runs, named by symbol. Text
 * depends on the KASLR slide (relocations), so a baseline from another boot or kernel is
 * not compared (skipped, with why). The text is read in 1 MiB chunks with a few chunks in
 * flight, so the transfer overlaps the hashing and the agent's work.
 */
import { createHash } from "node:crypto";
import { VmiError, kva, type ReadRequest, type ReadResult } from "../../vmi/index.js";
import type { LinuxKernel } from "../kernel.js";
import { walkReadError } from "../errors.js";
import { requirements } from "../requirements.js";
import type { TextBaseline } from "./baseline.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";

const TEXT = requirements("kernel-text", { symbols: ["_stext", "_etext"] });
const PAGE = 4096;
const CHUNK_PAGES = 256;
/** Chunks read ahead of the one being hashed. */
const CHUNKS_IN_FLIGHT = 8;
const MAX_FINDINGS = 32;

/** Per-page digests (and the whole-range digest) of the kernel text as it is in memory now. */
export async function hashKernelText(k: LinuxKernel): Promise<TextBaseline> {
  const b = k.bound(TEXT);
  const start = b.sym._stext;
  const end = b.sym._etext;
  const pages: string[] = [];
  const all = createHash("sha256");
  const nPages = Number((end - start + BigInt(PAGE - 1)) / BigInt(PAGE));
  const chunk = (p: number): ReadRequest[] => {
    const reqs: ReadRequest[] = [];
    for (let i = p; i < Math.min(nPages, p + CHUNK_PAGES); i++) {
      const at = start + BigInt(i * PAGE);
      const len = Number(end - at < BigInt(PAGE) ? end - at : BigInt(PAGE));
      reqs.push({ ctx: kva(at), len });
    }
    return reqs;
  };
  // Chunks are asked for ahead and hashed in order.
  const ahead: Promise<ReadResult[]>[] = [];
  let next = 0;
  const fill = (): void => {
    while (ahead.length < CHUNKS_IN_FLIGHT && next < nPages) {
      const p = k.vmi.readManySettled(chunk(next));
      p.catch(() => undefined); // awaited in turn; a failure surfaces there
      ahead.push(p);
      next += CHUNK_PAGES;
    }
  };
  fill();
  while (ahead.length > 0) {
    const res = await ahead.shift()!;
    fill();
    for (const r of res) {
      if (r instanceof VmiError) throw walkReadError("kernel-text", r, "kernel text");
      pages.push(createHash("sha256").update(r).digest("hex"));
      all.update(r);
    }
  }
  return {
    format: "seven-text-baseline",
    version: 1,
    banner: k.location.banner,
    virtSlide: hex(k.virtSlide),
    textStart: hex(start),
    textEnd: hex(end),
    pageSize: PAGE,
    pages,
    digest: all.digest("hex"),
  };
}

export const kernelText: IntegrityCheck = {
  name: "kernel-text",
  version: "1.0.0",
  description: "Kernel text pages hash to the owner's known-good baseline",
  requirements: [TEXT],
  async run(ctx) {
    const store = ctx.baseline;
    if (store === undefined) return { findings: [], skipped: "no baseline store given (pass one to record or compare)" };
    const k = ctx.kernel;
    const now = await hashKernelText(k);
    const base = await store.load();
    if (base === undefined) {
      await store.save({ ...now, recordedAt: new Date().toISOString() });
      return { findings: [], note: `baseline recorded (${now.pages.length} pages) in ${store.where}` };
    }
    if (base.banner !== now.banner || base.virtSlide !== now.virtSlide || base.textStart !== now.textStart || base.textEnd !== now.textEnd) {
      return { findings: [], skipped: `the baseline in ${store.where} is for another kernel or boot (slide ${base.virtSlide}, now ${now.virtSlide}): record a new one` };
    }
    if (base.digest === now.digest) return { findings: [], note: `${now.pages.length} pages match the baseline` };
    const f = finder(this.name);
    const findings: Finding[] = [];
    const start = BigInt(now.textStart);
    let changed = 0;
    for (let i = 0; i < now.pages.length; i++) {
      if (now.pages[i] === base.pages[i]) continue;
      let j = i;
      while (j + 1 < now.pages.length && now.pages[j + 1] !== base.pages[j + 1]) j++;
      changed += j - i + 1;
      const at = start + BigInt(i * PAGE);
      if (findings.length < MAX_FINDINGS) {
        findings.push(f("high", `kernel text ${k.symbolName(at) ?? hex(at)}`, `${j - i + 1} page(s) from ${hex(at)} differ from the baseline`, at));
      }
      i = j;
    }
    return { findings, note: `${changed} of ${now.pages.length} pages changed` };
  },
};
