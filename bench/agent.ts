/**
 * Agent figures (not a test; prints numbers):
 *   1. the service core alone (fake machine, in-memory transport, no TLS): requests/s of
 *      small requests, MB/s of physical reads in 1 MiB batches of 4 KiB ranges;
 *   2. the same through TLS 1.3 and the NIC rings of a fake host (fake Cpu);
 *   3. the real platform and host: TCP → NIC relay → agent at VMPL0 → TLS client:
 *      sequential and pipelined requests/s, MB/s of physical reads.
 *   node --import tsx bench/agent.ts
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:tls";
import { performance } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { systemClock } from "../src/shared/base/index.js";
import { ALPN_V1, FrameDecoder, decodeMessage, encodeMessageFrame, v1 } from "../src/shared/protocol/index.js";
import { createMachine } from "../src/platform/index.js";
import { createHost, launchCvm } from "../src/host/index.js";
import { buildAgentImage, createAgent, DEFAULT_LIMITS, encodeAgentConfig, initialVmsaPage } from "../src/agent/index.js";
import { createTlsIdentity } from "../src/agent/runtime/tls-identity.js";
import { serviceRig, V1Client } from "../src/agent/testing/harness.js";
import { FakeHost, launchedMachine } from "../src/agent/testing/fake-host.js";

type Op = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;
const MB = 1 << 20;
const readBatch: Op = { case: "readPhys", value: { ranges: Array.from({ length: 256 }, (_, i) => ({ addr: 0x100000n + BigInt(i) * 4096n, len: 4096 })) } };
const small: Op = { case: "readPhys", value: { ranges: [{ addr: 0x1000n, len: 8 }] } };

/** Runs `f` for `ms` (after a warm-up of the same length) and returns how often it ran. */
async function measure(ms: number, f: () => unknown): Promise<[number, number]> {
  for (const warm of [true, false]) {
    let n = 0;
    const t = performance.now();
    while (performance.now() - t < ms) {
      await f();
      n++;
    }
    if (!warm) return [n, performance.now() - t];
  }
  return [0, 0];
}

function rate(label: string, n: number, ms: number, bytes = 0): void {
  const extra = bytes > 0 ? `, ${((bytes / MB) / (ms / 1000)).toFixed(1)} MB/s` : "";
  console.log(`${label}: ${n} in ${ms.toFixed(0)} ms = ${Math.round(n / (ms / 1000))}/s${extra}`);
}

// 1. The core alone.
{
  const { core } = serviceRig();
  const c = new V1Client(core);
  for (const [label, op, bytes] of [["core, small reads", small, 0], ["core, 1 MiB read batches", readBatch, MB]] as const) {
    const [n, ms] = await measure(1000, () => c.call(op));
    rate(label, n, ms, n * bytes);
  }
}

// 2. TLS through a fake host's NIC rings (fake Cpu).
{
  const owner = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(16).fill(1));
  const m = launchedMachine({ config: { ownerKey: owner.spki } });
  const agent = createAgent({ heartbeatIntervalNs: 0n });
  const host = new FakeHost(m, agent.program);
  host.run(0, 16n);
  const s = connect({ socket: host.open(), rejectUnauthorized: false, key: owner.keyPem, cert: owner.certPem, ALPNProtocols: [ALPN_V1] });
  const dec = new FrameDecoder({ maxFrameBytes: 64 << 20 });
  let got = 0;
  s.on("data", (d: Buffer) => {
    dec.push(new Uint8Array(d));
    got += dec.drain().length;
  });
  const drive = async (until: () => boolean) => {
    while (!until()) {
      host.settle();
      await new Promise((r) => setImmediate(r));
    }
  };
  let id = 1n;
  const send = (op: Op) => s.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: id++, op })));
  send({ case: "machineInfo", value: {} });
  await drive(() => got === 1);
  for (const [label, op, bytes] of [["fake host + TLS, small reads (sequential)", small, 0], ["fake host + TLS, 1 MiB read batches", readBatch, MB]] as const) {
    const [n, ms] = await measure(1000, async () => {
      const want = got + 1;
      send(op);
      await drive(() => got >= want);
    });
    rate(label, n, ms, n * bytes);
  }
  s.destroy();
}

// 3. The real platform and host over TCP.
{
  const memoryBytes = 256n << 20n;
  const vcpus = 2;
  const owner = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(16).fill(2));
  const machine = createMachine({ memoryBytes, vcpus, seed: "bench-agent", clock: systemClock });
  const agentConfig = encodeAgentConfig({ ownerKey: owner.spki, legacyV0: false, limits: DEFAULT_LIMITS, memoryBytes, vcpus });
  const launched = launchCvm(machine.hypervisor, { memoryBytes, vcpus, agentImage: buildAgentImage(), agentConfig, vmsaPage: initialVmsaPage });
  const agent = createAgent({ heartbeatIntervalNs: 0n });
  machine.installProgram(0, agent.program);
  machine.installProgram(1, { step: () => ({ kind: "hlt" }) });
  const host = createHost({ hypervisor: machine.hypervisor, layout: launched.layout, clock: systemClock, seed: "bench-agent", agent: true, scheduler: { haltMs: 1 } });
  const ep = await host.listen("127.0.0.1", 0);
  host.start();
  const s = await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const t = connect({ host: "127.0.0.1", port: ep.port, rejectUnauthorized: false, key: owner.keyPem, cert: owner.certPem, ALPNProtocols: [ALPN_V1], minVersion: "TLSv1.3" });
    t.once("secureConnect", () => resolve(t));
    t.once("error", reject);
  });
  const dec = new FrameDecoder({ maxFrameBytes: 64 << 20 });
  const waiters = new Map<bigint, () => void>();
  s.on("data", (d: Buffer) => {
    dec.push(new Uint8Array(d));
    for (const f of dec.drain()) waiters.get(decodeMessage(v1.ResponseSchema, f).id)?.();
  });
  let id = 1n;
  const call = (op: Op) =>
    new Promise<void>((r) => {
      const me = id++;
      waiters.set(me, () => (waiters.delete(me), r()));
      s.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: me, op })));
    });
  await call({ case: "machineInfo", value: {} });
  for (const [label, op, bytes, depth] of [
    ["real host, small reads (sequential)", small, 0, 1],
    ["real host, small reads (32 in flight)", small, 0, 32],
    ["real host, 1 MiB read batches (sequential)", readBatch, MB, 1],
    ["real host, 1 MiB read batches (4 in flight)", readBatch, MB, 4],
  ] as const) {
    const [k, ms] = await measure(2000, () => Promise.all(Array.from({ length: depth }, () => call(op))));
    rate(label, k * depth, ms, k * depth * bytes);
  }
  s.destroy();
  await host.stop();
}
