/**
 * Figures for the ASP model (not a test; nothing is asserted):
 *   npx tsx src/platform/asp/testing/measure.ts [coldSeeds=5]
 * RSA-4096 deterministic key generation cold (no cache) and from the caches, certificate
 * signing, report signing and a whole SNP_GUEST_REQUEST exchange.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRng } from "../../../shared/base/index.js";
import { clearRsaKeyMemoryCache, deterministicRsaKey } from "../rsa-keygen.js";
import { signReport, reportFields } from "../report.js";
import { emptyGuestContext } from "../guest-context.js";
import { platformInfoFor, productInfo } from "../products.js";
import { scalarFromBytes } from "../ecdsa-p384.js";
import { buildRequestPage, reportRequest } from "./guest-client.js";
import { launchGuest } from "./launched-guest.js";
import { testConfig } from "./fake-hardware.js";

const n = Number(process.argv[2] ?? 5);
const ms = (t0: number) => performance.now() - t0;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `mean ${mean.toFixed(1)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(1)}, min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)} (n=${xs.length})`;
};

const cold: number[] = [];
const cands: number[] = [];
for (let i = 0; i < n; i++) {
  const t = performance.now();
  const { stats: st } = deterministicRsaKey(new SeededRng(`measure-${i}`).fork("ark"), { cache: false });
  cold.push(ms(t));
  cands.push(st.candidates);
}
console.log(`RSA-4096 keygen, cold:        ${stats(cold)}; candidates/key mean ${(cands.reduce((a, b) => a + b, 0) / n).toFixed(0)}`);

const dir = mkdtempSync(join(tmpdir(), "seven-asp-measure-"));
const rng = new SeededRng("measure-cache").fork("ark");
deterministicRsaKey(rng, { cacheDir: dir });
const disk: number[] = [];
const mem: number[] = [];
for (let i = 0; i < 20; i++) {
  clearRsaKeyMemoryCache();
  let t = performance.now();
  const r = deterministicRsaKey(rng, { cacheDir: dir });
  disk.push(ms(t));
  if (r.stats.source !== "disk") throw new Error("expected a disk hit");
  t = performance.now();
  deterministicRsaKey(rng, { cacheDir: dir });
  mem.push(ms(t));
}
rmSync(dir, { recursive: true, force: true });
console.log(`RSA-4096 keygen, disk cache:  ${stats(disk)}`);
console.log(`RSA-4096 keygen, memory:      ${stats(mem)}`);

const g = launchGuest(testConfig());
let t = performance.now();
g.asp.certificates();
console.log(`certificates() first call (keys cached, 3 PSS signatures + build): ${ms(t).toFixed(1)} ms`);

const ctx = emptyGuestContext();
ctx.phase = "running";
const secret = scalarFromBytes(new SeededRng("vcek").bytes(64));
const platform = { product: productInfo("milan"), version: 3 as const, tcb: 1n, firmware: { major: 1, minor: 55, build: 21 }, platformInfo: platformInfoFor(3), reportedChipId: new Uint8Array(64) };
const sign: number[] = [];
for (let i = 0; i < 200; i++) {
  const data = new Uint8Array(64);
  data[0] = i;
  t = performance.now();
  signReport(reportFields(ctx, platform, { reportData: data, vmpl: 0 }), secret);
  sign.push(ms(t));
}
console.log(`report build + ECDSA P-384 sign: ${stats(sign.slice(20))}`);

const rt: number[] = [];
for (let i = 0; i < 200; i++) {
  g.hw.hostWrite(g.request, buildRequestPage({ key: g.vmpck[0]!, vmpck: 0, seqno: BigInt(2 * i + 1), payload: reportRequest(new Uint8Array(64), 0) }));
  t = performance.now();
  if (g.asp.guestRequest(g.request, g.response) !== 0) throw new Error("request failed");
  rt.push(ms(t));
}
console.log(`SNP_GUEST_REQUEST (MSG_REPORT_REQ, decrypt + report + sign + encrypt): ${stats(rt.slice(20))}`);
