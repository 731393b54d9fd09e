/**
 * Measures the client VMI core on the real memory images (not a test; prints figures):
 * image load time (gunzip + parse), page-walk throughput (batched and one by one, raw
 * and through the Vmi's caches), and virtual read throughput.
 *   node --import tsx bench/vmi-images.ts
 */
import { performance } from "node:perf_hooks";
import { openImage, Vmi, kva, tableReader, translate, translateBatch, type Driver } from "../src/client/index.js";

const FIXTURES = new URL("../../shared/fixtures/linux/", import.meta.url).pathname;
const IMAGES = [
  { name: "nokaslr-256M", directMap: 0xffff888000000000n },
  { name: "kaslr-256M", directMap: 0xffff8f0a00000000n },
];

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`;
}

for (const img of IMAGES) {
  const t0 = performance.now();
  const drv = await openImage(`${FIXTURES}${img.name}/vmcore.elf.gz`);
  const loadMs = performance.now() - t0;
  const mib = drv.source.size / 2 ** 20;
  console.log(`${img.name}: loaded ${mib.toFixed(0)} MiB in ${loadMs.toFixed(0)} ms (${((mib / loadMs) * 1000).toFixed(0)} MiB/s decompressed)`);

  const regs = await drv.registers(0);
  const vas = Array.from({ length: 65536 }, (_, i) => img.directMap + BigInt(i) * 0x1000n);
  const counted = (d: Driver) => {
    let calls = 0;
    return { read: tableReader((r) => (calls++, d.readPhys(r))), calls: () => calls };
  };

  const batch = counted(drv);
  let t = performance.now();
  const rs = await translateBatch(batch.read, vas.map((va) => ({ dtb: regs.cr3, va })));
  let ms = performance.now() - t;
  const ok = rs.filter((r) => !(r instanceof Error)).length;
  console.log(`  batched walk, no cache: ${vas.length} VAs (${ok} mapped) in ${ms.toFixed(0)} ms = ${rate(vas.length, ms)}, ${batch.calls()} table-read calls`);

  const single = counted(drv);
  t = performance.now();
  for (const va of vas.slice(0, 10000)) await translate(single.read, regs.cr3, va).catch(() => undefined);
  ms = performance.now() - t;
  console.log(`  one-by-one walk, no cache: 10000 VAs in ${ms.toFixed(0)} ms = ${rate(10000, ms)}, ${single.calls()} table-read calls`);

  const vmi = await Vmi.open(drv, { kernelDtb: regs.cr3 });
  t = performance.now();
  await vmi.translateMany(vas.map((va) => kva(va)));
  ms = performance.now() - t;
  console.log(`  Vmi.translateMany cold (page cache + TLB): ${rate(vas.length, ms)}`);
  t = performance.now();
  await vmi.translateMany(vas.map((va) => kva(va)));
  ms = performance.now() - t;
  console.log(`  Vmi.translateMany warm: ${rate(vas.length, ms)}`);
  t = performance.now();
  for (const va of vas.slice(0, 10000)) await vmi.translate(kva(va));
  ms = performance.now() - t;
  console.log(`  Vmi.translate one by one, warm: ${rate(10000, ms)}`);

  const fresh = await Vmi.open(drv, { kernelDtb: regs.cr3 });
  t = performance.now();
  // From 1 MiB on: the direct map also covers the VGA hole, which the dump does not hold.
  const pages = await fresh.readMany(vas.slice(256, 256 + 16384).map((va) => ({ ctx: kva(va), len: 4096 })));
  ms = performance.now() - t;
  const readMiB = (pages.length * 4096) / 2 ** 20;
  console.log(`  Vmi.readMany of ${readMiB} MiB in 4 KiB kva reads: ${ms.toFixed(0)} ms = ${((readMiB / ms) * 1000).toFixed(0)} MiB/s`);
  t = performance.now();
  const big = await fresh.read(kva(img.directMap + 0x100000n), 64 << 20);
  ms = performance.now() - t;
  console.log(`  Vmi.read of one 64 MiB kva range: ${ms.toFixed(0)} ms = ${((64 / ms) * 1000).toFixed(0)} MiB/s (${big.length} bytes)`);
  await drv.close();
}
