/**
 * Times the Linux layer on the real memory images (not a test; prints figures): profile
 * load (BTF + System.map, and the committed ISF), image load, kernel discovery per route
 * (memory only, then with registers), each plugin and each check — profile load and
 * discovery are reported apart from plugin time.
 *   node --import tsx bench/linux-plugins.ts
 */
import { performance } from "node:perf_hooks";
import {
  ALL_PLUGINS, Vmi, discoverKernel, loadKernelProfile, memoryBaselineStore, openImage, openLinux, runChecks, runPlugin,
} from "../src/client/index.js";

const FIXTURES = new URL("../../shared/fixtures/linux/", import.meta.url).pathname;
const ms = (t: number): string => `${t.toFixed(1)} ms`;

let t = performance.now();
const profile = await loadKernelProfile({ btf: `${FIXTURES}debian-6.1.0-56-amd64/vmlinux.btf`, systemMap: `${FIXTURES}debian-6.1.0-56-amd64/System.map` });
console.log(`profile from BTF + System.map: ${ms(performance.now() - t)}`);
t = performance.now();
await loadKernelProfile({ isf: new URL("../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url).pathname });
console.log(`profile from ISF (gzip): ${ms(performance.now() - t)}`);

for (const name of ["nokaslr-256M", "kaslr-256M"]) {
  t = performance.now();
  const drv = await openImage(`${FIXTURES}${name}/vmcore.elf.gz`);
  console.log(`\n${name}: image load ${ms(performance.now() - t)}`);
  const vmi = await Vmi.open(drv);
  const k = await openLinux(vmi, profile, { discover: { useRegisters: false } });
  const loc = k.location;
  console.log(`  discovery (memory only, cold cache): ${ms(loc.ms)} — slide 0x${loc.virtSlide.toString(16)}, _text at PA 0x${loc.physText.toString(16)}`);
  for (const r of loc.routes) console.log(`    ${r.route}: ${r.status} in ${ms(r.ms)} (${r.probed} probes, ${r.hits} hits)`);
  const again = await discoverKernel(vmi, profile);
  console.log(`  discovery with registers (warm cache): ${ms(again.ms)}`);
  for (const r of again.routes) console.log(`    ${r.route}: ${r.status} in ${ms(r.ms)}`);
  for (const [pname, p] of Object.entries(ALL_PLUGINS)) {
    const first = await runPlugin(p as (typeof ALL_PLUGINS)["ps"], k, {});
    const second = await runPlugin(p as (typeof ALL_PLUGINS)["ps"], k, {});
    console.log(`  ${pname}: ${first.rows.length} rows in ${ms(first.ms)} (again: ${ms(second.ms)})`);
  }
  const store = memoryBaselineStore();
  for (const pass of ["first", "second"]) {
    const r = await runChecks(k, undefined, { baseline: store });
    console.log(`  checks (${pass} run): ${r.clean ? "clean" : "NOT clean"} in ${ms(r.ms)}`);
    for (const c of r.checks) console.log(`    ${c.check.padEnd(20)} ${c.status.padEnd(8)} ${ms(c.ms).padStart(10)}  ${c.note ?? c.error?.message ?? ""}`);
  }
  await drv.close();
}
