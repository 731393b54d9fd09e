import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { ManualClock, toHex } from "../../shared/base/index.js";
import { connectBaseline } from "../../client/index.js";
import { WorldError } from "./errors.js";
import { measureHex } from "./launch-inputs.js";
import { createWorld } from "./world.js";
import type { World, WorldOptions } from "./world.js";

const MIB = 1n << 20n;
const small: WorldOptions = { memoryBytes: 128n * MIB, vcpus: 2, processes: 64, seed: "world-test" };
const ownerKey = new Uint8Array(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ format: "der", type: "spki" }));

async function withWorld<T>(o: WorldOptions, f: (w: World) => Promise<T> | T): Promise<T> {
  const w = await createWorld(o);
  try {
    return await f(w);
  } finally {
    await w.stop();
  }
}

function rounds(w: World, clock: ManualClock, n: number): void {
  for (let i = 0; i < n; i++) {
    clock.advance(1);
    w.host.round();
  }
}

test("the launch measurement is the one `seven measure` computes for the same options", async () => {
  await withWorld({ ...small, ownerKey, legacyV0: true }, (w) => {
    assert.equal(toHex(w.measurement!), measureHex({ memoryBytes: small.memoryBytes!, vcpus: 2, ownerKey, legacyV0: true }));
  });
  const base = measureHex({ memoryBytes: small.memoryBytes!, vcpus: 2, ownerKey });
  const variants = [
    measureHex({ memoryBytes: small.memoryBytes!, vcpus: 2 }),
    measureHex({ memoryBytes: small.memoryBytes!, vcpus: 2, ownerKey, legacyV0: true }),
    measureHex({ memoryBytes: small.memoryBytes!, vcpus: 3, ownerKey }),
    measureHex({ memoryBytes: 130n * MIB, vcpus: 2, ownerKey }),
  ];
  assert.equal(new Set([base, ...variants]).size, 5, "owner key, v0 flag, vCPUs and memory each change the measurement");
  assert.equal(measureHex({ memoryBytes: small.memoryBytes!, vcpus: 2, ownerKey }), base, "stable");
});

test("the world boots: the agent at VMPL0, then the guest kernel at VMPL1 running its workload", async () => {
  const clock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));
  await withWorld({ ...small, clock, ownerKey }, (w) => {
    rounds(w, clock, 400);
    assert.equal(w.agent!.introspect.phase, "running");
    assert.ok(w.guest.booted);
    const s = w.machine.stats();
    assert.ok(s.retired[0]![1]! > 0 && s.retired[1]![1]! > 0, "both vCPUs ran VMPL1");
    assert.ok(w.guest.stats().syscalls > 0);
    const c = w.host.counters();
    assert.equal(c["agent.runs.boot"]! >= 2, true);
    assert.equal(c["exit.vmpl1.invalid"], undefined, "nothing is paused");
  });
});

test("soak: the running world does not grow its memory", async () => {
  setFlagsFromString("--expose_gc");
  const gc = runInNewContext("gc") as () => void;
  const clock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));
  await withWorld({ ...small, clock, ownerKey }, (w) => {
    rounds(w, clock, 1500); // boot and warm up
    gc();
    const m0 = process.memoryUsage();
    const pages0 = w.machine.stats().allocatedPages;
    const retired0 = w.guest.stats().retired;
    rounds(w, clock, 6000);
    gc();
    const m1 = process.memoryUsage();
    const pages1 = w.machine.stats().allocatedPages;
    const ran = w.guest.stats().retired - retired0;
    assert.ok(ran > 100_000, `the workload ran (${ran} instructions)`);
    const heapGrowth = m1.heapUsed - m0.heapUsed;
    const bufferGrowth = m1.arrayBuffers - m0.arrayBuffers;
    assert.ok(heapGrowth < 24 * 2 ** 20, `heap grew by ${(heapGrowth / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(bufferGrowth < 24 * 2 ** 20, `buffers grew by ${(bufferGrowth / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(pages1 - pages0 < 2048, `guest pages grew by ${pages1 - pages0}`);
  });
});

test("no SEV: the host serves the VMI baseline over plain TCP; pausing every vCPU writes the ground truth", async () => {
  const dir = mkdtempSync(join(tmpdir(), "seven-world-"));
  const gt = join(dir, "gt.json");
  await withWorld({ ...small, sev: false, groundTruthFile: gt }, async (w) => {
    assert.equal(w.mode, "plain");
    assert.equal(w.agent, undefined);
    assert.equal(w.measurement, undefined);
    w.start();
    const d = await connectBaseline({ endpoint: w.endpoint, timeoutMs: 10_000 });
    try {
      const info = await d.info();
      assert.equal(info.vcpuCount, 2);
      const [page] = await d.readPhys([{ gpa: 0x100000n, len: 64 }]);
      assert.ok(page instanceof Uint8Array && page.length === 64, "a plaintext read of guest RAM");
      const deadline = Date.now() + 20_000;
      while (!w.guest.booted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(w.guest.booted);
      await d.pause();
      const until = Date.now() + 10_000;
      while (!existsSync(gt) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const doc = JSON.parse(readFileSync(gt, "utf8")) as { format: string; processes: unknown[] };
      assert.equal(doc.format, "00seven-guest-ground-truth/1");
      assert.ok(doc.processes.length >= 64);
      assert.deepEqual(w.host.guestStates(), ["held", "held"]);
    } finally {
      await d.close();
    }
  });
});

test("setup errors: unknown rootkit or adversary, relay adversaries without SEV, a busy port", async () => {
  await assert.rejects(createWorld({ ...small, rootkits: ["no-such-rootkit"] }), (e: unknown) => e instanceof WorldError && e.code === "UNKNOWN_ROOTKIT" && e.exitCode === 2);
  await assert.rejects(createWorld({ ...small, adversary: ["mitm"] }), (e: unknown) => e instanceof WorldError && e.code === "UNKNOWN_ADVERSARY" && e.exitCode === 2);
  await assert.rejects(createWorld({ ...small, sev: false, adversary: ["tamper"] }), (e: unknown) => e instanceof WorldError && e.code === "BAD_OPTION");
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const port = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(
      createWorld({ ...small, listen: { host: "127.0.0.1", port } }),
      (e: unknown) => e instanceof WorldError && e.code === "LISTEN_FAILED" && e.exitCode === 1 && e.message.includes("in use"),
    );
  } finally {
    busy.close();
  }
});
