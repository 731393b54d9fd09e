/**
 * (6) Forensics on real memory images (../shared/fixtures/linux): `ps` and `check` (and
 * the other plugins) on a Debian 6.1 kernel's memory, time per plugin. Loading is counted
 * apart from the plugins: the profile (ISF, and BTF + System.map), the image (gunzip +
 * ELF parse) and the attach (kernel discovery). Each plugin sample runs on a fresh Vmi
 * (cold page cache and TLB) over the already-loaded image and a known kernel location,
 * so it measures reading and walking, not loading.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ALL_REQUIREMENTS, Vmi, loadKernelProfile, lsmod, memoryBaselineStore, openImage, openLinux, ps, pstree, regs, runChecks, runPlugin,
  type ImageDriver, type KernelLocation, type Plugin, type TextBaseline,
} from "../../src/client/index.js";
import type { Profile } from "../../src/shared/kernel/index.js";
import { metric, sampleMs } from "../harness/measure.js";
import { BenchSkip, type Benchmark, type Metric } from "../harness/types.js";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/linux/", import.meta.url));
const KERNEL = `${FIXTURES}debian-6.1.0-56-amd64/`;
const ISF = fileURLToPath(new URL("../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url));
const IMAGES = ["nokaslr-256M", "kaslr-256M"] as const;
const PLUGINS: readonly Plugin<Record<string, never>>[] = [ps, pstree, lsmod, regs] as unknown as Plugin<Record<string, never>>[];

async function freshKernel(drv: ImageDriver, profile: Profile, location: KernelLocation) {
  const vmi = await Vmi.open(drv);
  return openLinux(vmi, profile, { requirements: ALL_REQUIREMENTS, location });
}

export const images: Benchmark = {
  name: "images",
  title: "Forensics on the real Debian 6.1 memory images: time per plugin, loading apart",
  async run(ctx) {
    if (!existsSync(ISF) || !existsSync(`${KERNEL}vmlinux.btf`)) throw new BenchSkip(`no profile or BTF (${ISF}, ${KERNEL})`);
    const present = IMAGES.filter((i) => existsSync(`${FIXTURES}${i}/vmcore.elf.gz`));
    if (present.length === 0) throw new BenchSkip(`no memory images in ${FIXTURES}`);
    const n = ctx.quick ? 2 : 7;
    const nLoad = ctx.quick ? 1 : 3;
    const metrics: Metric[] = [];
    const notes: string[] = [];

    ctx.progress.step("profile loading");
    let profile: Profile | undefined;
    metrics.push(metric("images.profile-isf", "load profile: ISF (gzip JSON, 6.1)", "ms", "lower", await sampleMs(nLoad, 0, async () => (profile = await loadKernelProfile({ isf: ISF })))));
    metrics.push(
      metric("images.profile-btf", "load profile: BTF + System.map", "ms", "lower", await sampleMs(nLoad, 0, () => loadKernelProfile({ btf: `${KERNEL}vmlinux.btf`, systemMap: `${KERNEL}System.map` }))),
    );
    const prof = profile!;

    for (const img of present) {
      const path = `${FIXTURES}${img}/vmcore.elf.gz`;
      ctx.progress.step(`${img}: image load`);
      // The driver kept for the plugin runs is the one of the last load sample.
      const loads: number[] = [];
      let drv: ImageDriver | undefined;
      for (let i = 0; i < nLoad; i++) {
        await drv?.close();
        const t = performance.now();
        drv = await openImage(path);
        loads.push(performance.now() - t);
      }
      metrics.push(metric(`images.${img}.load`, `${img}: open image (gunzip + ELF parse)`, "ms", "lower", loads));
      const d = drv!;
      try {
        ctx.progress.step(`${img}: attach`);
        let location: KernelLocation | undefined;
        metrics.push(
          metric(`images.${img}.attach`, `${img}: attach (requirements + kernel discovery)`, "ms", "lower", await sampleMs(n, 1, async () => {
            location = (await openLinux(await Vmi.open(d), prof, { requirements: ALL_REQUIREMENTS })).location;
          })),
        );
        const loc = location!;
        for (const p of PLUGINS) {
          ctx.progress.step(`${img}: ${p.name}`);
          let rows = 0;
          const s = await sampleMs(n, 1, async () => {
            rows = (await runPlugin(p, await freshKernel(d, prof, loc), {})).rows.length;
          });
          metrics.push(metric(`images.${img}.${p.name}`, `${img}: ${p.name} (${rows} rows)`, "ms", "lower", s));
        }
        ctx.progress.step(`${img}: check`);
        const store = memoryBaselineStore();
        await runChecks(await freshKernel(d, prof, loc), undefined, { baseline: store }); // records the kernel-text baseline
        const baseline: TextBaseline | undefined = store.current;
        const perCheck = new Map<string, number[]>();
        let summary = "";
        const s = await sampleMs(n, 0, async () => {
          const r = await runChecks(await freshKernel(d, prof, loc), undefined, { baseline: memoryBaselineStore(baseline) });
          for (const c of r.checks) perCheck.set(c.check, [...(perCheck.get(c.check) ?? []), c.ms]);
          summary = r.checks.map((c) => `${c.check} ${c.status}${c.findings > 0 ? ` (${c.findings})` : ""}`).join(", ");
        });
        metrics.push(metric(`images.${img}.check`, `${img}: check, all ${perCheck.size} checks`, "ms", "lower", s));
        for (const [name, ms] of perCheck) metrics.push(metric(`images.${img}.check.${name}`, `${img}: check ${name}`, "ms", "lower", ms));
        notes.push(`${img}: ${summary}.`);
      } finally {
        await d.close();
      }
    }
    return {
      metrics,
      ratios: [],
      params: { images: present, isf: "profiles/debian-6.1.0-56-amd64.isf.json.gz", samplesPerPlugin: n, loadSamples: nLoad },
      notes: [
        "Plugin and check samples each start from a fresh Vmi (cold page cache and TLB) with the image already in memory and the kernel location known; a checks sample compares the kernel text with a baseline recorded in memory just before.",
        ...notes,
      ],
    };
  },
};
