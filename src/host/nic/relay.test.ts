import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { test } from "node:test";
import { NIC_HOST_FLAGS, NIC_RECORD_KIND, SEVEN_RUN_REASON } from "../../shared/spec/index.js";
import type { AdversaryConfig } from "../adversary/config.js";
import { HostError } from "../errors.js";
import { testWorld } from "../testing/test-world.js";
import type { TestWorld } from "../testing/test-world.js";
import { RX_QUEUE_HIGH_WATER } from "./relay.js";
import { NicRings } from "./ring.js";

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function started(adversary?: AdversaryConfig): Promise<TestWorld & { port: number; close: () => Promise<void> }> {
  const w = testWorld({ vcpus: 1, ...(adversary !== undefined ? { adversary } : {}) });
  const { port } = await w.host.listen("127.0.0.1", 0);
  w.host.start();
  return { ...w, port, close: () => w.host.stop() };
}

function dial(port: number): Promise<Socket & { got: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(Object.assign(s, { got })));
    const got: Buffer[] = [];
    s.on("data", (d: Buffer) => got.push(d));
    s.on("error", reject);
  });
}
const total = (s: { got: Buffer[] }): number => s.got.reduce((n, b) => n + b.length, 0);
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("bytes go through the rings both ways intact (echo agent), and the host counts them", async () => {
  const w = await started();
  try {
    const s = await dial(w.port);
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    s.write(payload);
    await until(() => total(s) === payload.length, "the echo");
    assert.equal(sha(Buffer.concat(s.got)), sha(payload));
    const c = w.host.counters();
    assert.equal(c["nic.rx.bytes"], payload.length);
    assert.equal(c["nic.tx.bytes"], payload.length);
    assert.equal(c["nic.accepted"], 1);
    assert.ok(c["agent.runs.nic"]! > 0);
    const nicRuns = w.agent.runs.filter((r) => (r.reasons & SEVEN_RUN_REASON.NIC) !== 0n);
    assert.ok(nicRuns.length > 0 && nicRuns.every((r) => r.vcpu === 0), "NIC work runs VMPL0 on the NIC's vCPU");
    assert.ok(nicRuns.some((r) => (r.hostFlags & NIC_HOST_FLAGS.RX_PENDING) !== 0), "with RX_PENDING in HOST_FLAGS");
    s.destroy();
  } finally {
    await w.close();
  }
});

test("backpressure: a stalled agent fills the RX ring, the socket stops being read, nothing is lost", async () => {
  const w = await started();
  try {
    w.agent.nicMode = "stall";
    const s = await dial(w.port);
    const payload = randomBytes(6 * 1024 * 1024);
    s.write(payload);
    const rings = new NicRings(w.host.hypervisor, w.layout.nic);
    const fill = (): number => rings.counter("rxProd") - rings.counter("rxCons");
    await until(() => fill() > w.layout.nic.rxBytes - 64 * 1024, "the RX ring to fill");
    await new Promise((r) => setTimeout(r, 50));
    const c = w.host.counters();
    assert.ok(fill() <= w.layout.nic.rxBytes);
    assert.ok((c["nic.rx.socket-paused"] ?? 0) > 0, "the socket was paused");
    assert.ok(c["nic.rx.socket-bytes"]! <= w.layout.nic.rxBytes + RX_QUEUE_HIGH_WATER + 2 * 65536, `bounded buffering: read ${c["nic.rx.socket-bytes"]}`);
    assert.ok(c["nic.rx.socket-bytes"]! < payload.length, "the rest waits in the kernel's socket buffers");
    w.agent.nicMode = "sink";
    await until(() => (w.agent.received.get(1)?.length ?? 0) === payload.length, "all bytes at the agent");
    assert.equal(sha(Uint8Array.from(w.agent.received.get(1)!)), sha(payload));
    s.destroy();
  } finally {
    await w.close();
  }
});

test("connection ids: reused only after both sides sent CLOSE", async () => {
  const w = await started();
  try {
    const a = await dial(w.port);
    const b = await dial(w.port);
    await until(() => w.agent.opened.length === 2, "two OPENs");
    assert.deepEqual(w.agent.opened, [1, 2]);
    w.agent.nicMode = "stall"; // the agent does not read (or answer) the CLOSE yet
    a.end();
    await until(() => (w.host.counters()["nic.rx.records"] ?? 0) >= 3, "the CLOSE in the ring");
    const c = await dial(w.port);
    w.agent.nicMode = "echo";
    await until(() => w.agent.opened.length === 3, "the third OPEN");
    assert.equal(w.agent.opened[2], 3, "id 1 is still in use until the agent's CLOSE");
    await until(() => w.host.counters()["nic.closed"] === 1, "id 1 freed");
    const d = await dial(w.port);
    await until(() => w.agent.opened.length === 4, "the fourth OPEN");
    assert.equal(w.agent.opened[3], 1, "the lowest free id is reused");
    for (const s of [b, c, d]) s.destroy();
  } finally {
    await w.close();
  }
});

test("TX records for unknown connections and malformed records are counted, and relaying goes on", async () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round();
  const rings = new NicRings(w.host.hypervisor, w.layout.nic);
  w.agent.sendRaw(rings, 9, NIC_RECORD_KIND.DATA, new Uint8Array(4));
  w.host.round();
  assert.equal(w.host.counters()["nic.tx.unknown-conn"], 1);
  w.agent.sendRaw(rings, 1, 7, new Uint8Array(4)); // unknown kind
  w.host.round();
  assert.equal(w.host.counters()["nic.protocol-errors"], 1);
  assert.equal(rings.counter("txCons"), rings.counter("txProd"), "the host skipped what it cannot frame");
  w.agent.sendRaw(rings, 9, NIC_RECORD_KIND.DATA, new Uint8Array(4));
  w.host.round();
  assert.equal(w.host.counters()["nic.tx.unknown-conn"], 2);
  rings.setCounter("rxCons", 1 << 30); // a consumer past the producer
  w.host.round();
  assert.equal(w.host.counters()["nic.protocol-errors"], 2);
});

test("tamper through the relay: the agent (and so the echo) gets the record with one bit flipped", async () => {
  const w = await started({ tamper: { mode: "bit", dir: "rx", nth: 1, byte: 3 } });
  try {
    const s = await dial(w.port);
    const msg = Buffer.from("attested bytes");
    s.write(msg);
    await until(() => total(s) === msg.length, "the echo");
    const got = Buffer.concat(s.got);
    assert.notDeepEqual(got, msg);
    assert.equal(got[3], msg[3]! ^ 1);
    assert.deepEqual(Buffer.concat([got.subarray(0, 3), got.subarray(4)]), Buffer.concat([msg.subarray(0, 3), msg.subarray(4)]));
    s.destroy();
  } finally {
    await w.close();
  }
});

test("drop on the way back: the client never gets the agent's first record", async () => {
  const w = await started({ drop: { dir: "tx", nth: 1 } });
  try {
    const s = await dial(w.port);
    s.write("first");
    await until(() => (w.host.counters()["adversary.drop"] ?? 0) === 1, "the drop");
    s.write("second");
    await until(() => total(s) === 6, "the second echo");
    assert.equal(Buffer.concat(s.got).toString(), "second");
    s.destroy();
  } finally {
    await w.close();
  }
});

test("replay=session: after the first connection closes, its client bytes are replayed to the agent as a new connection", async () => {
  const w = await started({ replay: { mode: "session", conn: 1 } });
  try {
    w.agent.nicMode = "sink";
    const s = await dial(w.port);
    s.write("client hello");
    await until(() => w.agent.received.get(1)?.length === 12, "the first session");
    s.end();
    await until(() => w.agent.opened.length === 2, "the replayed OPEN");
    const replayed = w.agent.opened[1]!;
    await until(() => w.agent.received.get(replayed)?.length === 12, "the replayed bytes");
    assert.equal(Buffer.from(w.agent.received.get(replayed)!).toString(), "client hello");
    assert.equal(w.host.counters()["adversary.replay-session"], 1);
  } finally {
    await w.close();
  }
});

test("a busy port is a LISTEN_FAILED error with EADDRINUSE", async () => {
  const w = await started();
  try {
    const other = testWorld({ vcpus: 1 });
    await assert.rejects(other.host.listen("127.0.0.1", w.port), (e: unknown) => e instanceof HostError && e.code === "LISTEN_FAILED" && e.details.errno === "EADDRINUSE");
  } finally {
    await w.close();
  }
});
