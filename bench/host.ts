/**
 * Host figures (not a test; prints numbers):
 *   launch time for 256 MiB and 1 GiB (LAUNCH_UPDATE per page, QEMU order);
 *   scheduler rounds/s with fake VMPL0/VMPL1 programs (2 vCPUs, default budgets and 1-instruction slices);
 *   relay throughput through the NIC rings (TCP → RX ring → echo agent → TX ring → TCP).
 *   node --import tsx bench/host.ts
 */
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { ManualClock } from "../src/shared/base/index.js";
import { createMachine } from "../src/platform/index.js";
import { expectedMeasurement, launchCvm } from "../src/host/index.js";
import { fakeInputs, testWorld, MIB } from "../src/host/testing/test-world.js";

const clock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));

for (const mib of [256n, 1024n]) {
  const inputs = fakeInputs({ memoryBytes: mib * MIB, vcpus: 4 });
  const m = createMachine({ memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus, seed: "bench", clock });
  let t = performance.now();
  const r = launchCvm(m.hypervisor, inputs);
  const launchMs = performance.now() - t;
  t = performance.now();
  expectedMeasurement(inputs);
  const measureMs = performance.now() - t;
  console.log(`launch ${mib} MiB, 4 vCPUs: ${r.pages} pages in ${launchMs.toFixed(0)} ms; expected measurement alone ${measureMs.toFixed(0)} ms`);
}

for (const budget of [4000, 1]) {
  const w = testWorld({ vcpus: 2, scheduler: { guestBudget: budget } });
  w.host.round();
  const t = performance.now();
  let n = 0;
  while (performance.now() - t < 1000) {
    w.host.round();
    n++;
  }
  const ms = performance.now() - t;
  const retired = w.machine.stats().retired.reduce((s, r) => s + r[1]!, 0);
  console.log(`scheduler, 2 vCPUs, guest budget ${budget}: ${Math.round((n / ms) * 1000).toLocaleString("en-US")} rounds/s, ${Math.round((retired / ms) * 1000).toLocaleString("en-US")} VMPL1 instructions/s`);
}

{
  const w = testWorld({ vcpus: 1, scheduler: { guestBudget: 1000 } });
  const { port } = await w.host.listen("127.0.0.1", 0);
  w.host.start();
  const payload = randomBytes(64 * 1024 * 1024);
  const s = connect({ host: "127.0.0.1", port });
  await new Promise((r) => s.once("connect", r));
  const h = createHash("sha256");
  let got = 0;
  const t = performance.now();
  await new Promise<void>((resolve) => {
    s.on("data", (d: Buffer) => {
      h.update(d);
      got += d.length;
      if (got === payload.length) resolve();
    });
    s.write(payload);
  });
  const ms = performance.now() - t;
  const ok = h.digest("hex") === createHash("sha256").update(payload).digest("hex");
  console.log(`relay echo: ${payload.length / 2 ** 20} MiB each way in ${ms.toFixed(0)} ms = ${((payload.length / 2 ** 20 / ms) * 1000).toFixed(1)} MiB/s each way (intact: ${ok}), ${w.host.rounds} rounds`);
  s.destroy();
  await w.host.stop();
}

{
  // The real world: the Linux guest model at VMPL1 and the agent at VMPL0 (no client connected).
  const { createWorld } = await import("../src/app/world/world.js");
  const wclock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));
  let t = performance.now();
  const w = await createWorld({ clock: wclock, listen: { host: "127.0.0.1", port: 0 } });
  console.log(`createWorld (256 MiB, 2 vCPUs, profile load + launch): ${(performance.now() - t).toFixed(0)} ms`);
  while (!w.guest.booted) {
    wclock.advance(1);
    w.host.round();
  }
  const r0 = w.guest.stats().retired;
  t = performance.now();
  let n = 0;
  while (performance.now() - t < 2000) {
    wclock.advance(1);
    w.host.round();
    n++;
  }
  const ms = performance.now() - t;
  const ran = w.guest.stats().retired - r0;
  console.log(`real world, 2 vCPUs: ${Math.round((n / ms) * 1000).toLocaleString("en-US")} rounds/s, ${Math.round((ran / ms) * 1000).toLocaleString("en-US")} guest instructions/s`);
  await w.stop();
}
