import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { test } from "node:test";
import { SeededRng, gpa } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { NIC_HOST_FLAGS, NIC_RECORD_KIND, SEVEN_RUN_REASON } from "../../shared/spec/index.js";
import type { NicLayout } from "../../shared/spec/index.js";
import type { AdversaryConfig } from "../adversary/config.js";
import { RelayAdversary } from "../adversary/stream.js";
import { HostError } from "../errors.js";
import { Counters, HostLog } from "../observe.js";
import { testWorld } from "../testing/test-world.js";
import type { TestWorld } from "../testing/test-world.js";
import { NicRelay, RX_QUEUE_HIGH_WATER } from "./relay.js";
import { NicRings, RECORD_HEADER_SIZE, decodeRecordHeader } from "./ring.js";

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

test("the records of one drain reach a connection's socket as one write, in order", async () => {
  const w = testWorld({ vcpus: 1 });
  const { port } = await w.host.listen("127.0.0.1", 0);
  try {
    w.agent.nicMode = "sink";
    const s = await dial(port);
    await until(() => w.host.nic!.connections === 1, "the accept");
    w.host.round(); // OPEN into the ring, the agent takes it
    assert.deepEqual(w.agent.opened, [1]);
    const rings = new NicRings(w.host.hypervisor, w.layout.nic);
    const parts = [1, 2, 3, 4, 5].map((i) => new Uint8Array(100 + i).fill(i));
    for (const p of parts) w.agent.sendRaw(rings, 1, NIC_RECORD_KIND.DATA, p);
    const before = w.host.counters();
    w.host.round();
    const after = w.host.counters();
    assert.equal(after["nic.tx.records"]! - (before["nic.tx.records"] ?? 0), 5);
    assert.equal(after["nic.tx.socket-writes"]! - (before["nic.tx.socket-writes"] ?? 0), 1, "five records, one write");
    const expected = Buffer.concat(parts);
    await until(() => total(s) === expected.length, "the bytes at the client");
    assert.deepEqual(Buffer.concat(s.got), expected);
    // Mixed sizes, largest records among small ones: read in windows, delivered intact and in order.
    const mixed = [100, 65536, 7, 65536, 30000, 1, 65536, 65535].map((n) => new Uint8Array(randomBytes(n)));
    for (const p of mixed) w.agent.sendRaw(rings, 1, NIC_RECORD_KIND.DATA, p);
    w.host.round();
    const all = Buffer.concat([expected, ...mixed]);
    await until(() => total(s) === all.length, "the mixed records at the client");
    assert.equal(sha(Buffer.concat(s.got)), sha(all));
    assert.equal(rings.counter("txCons"), rings.counter("txProd"));
    s.destroy();
  } finally {
    await w.host.stop();
  }
});

test("TX backpressure: a client that does not read stops the draining and then the agent; nothing is lost", async () => {
  const w = await started();
  try {
    const s = await dial(w.port);
    s.pause(); // the client reads nothing for now
    const payload = randomBytes(24 * 1024 * 1024);
    s.write(payload);
    await until(() => (w.host.counters()["nic.tx.socket-blocked"] ?? 0) > 0, "the host to stop draining");
    await until(() => (w.host.counters()["nic.rx.socket-paused"] ?? 0) > 0, "the stall to reach the client's socket");
    const c = w.host.counters();
    assert.ok(c["nic.rx.socket-bytes"]! < payload.length, "the rest waits in the client's socket");
    s.resume();
    await until(() => total(s) === payload.length, "the whole echo", 60_000);
    assert.equal(sha(Buffer.concat(s.got)), sha(payload));
    s.destroy();
  } finally {
    await w.close();
  }
});

test("one fill of the RX ring is one ring write (headers and payloads staged), and the records read back intact", () => {
  const nic: NicLayout = { control: gpa(0), rx: gpa(0x1000), rxBytes: 4096, tx: gpa(0x2000), txBytes: 4096 };
  const m = new Uint8Array(0x3000);
  const writes: [number, number][] = [];
  const mem = {
    read: (g: Gpa, len: number) => m.slice(Number(g), Number(g) + len),
    write: (g: Gpa, d: Uint8Array) => {
      writes.push([Number(g), d.length]);
      m.set(d, Number(g));
    },
  };
  const counters = new Counters();
  const log = new HostLog();
  const relay = new NicRelay({ mem, nic, adversary: new RelayAdversary({}, new SeededRng("t"), counters, log), counters, log, onActivity: () => undefined });
  relay.init();
  const payloads = [new Uint8Array(300).fill(1), new Uint8Array(5).fill(2), new Uint8Array(1000).fill(3)];
  relay.injectSession(payloads, "peer");
  writes.length = 0;
  relay.pump();
  const ringWrites = writes.filter(([g]) => g >= 0x1000 && g < 0x2000);
  assert.equal(ringWrites.length, 1, "OPEN and three DATA records in one write");
  const rings = new NicRings(mem, nic);
  let at = 0;
  const got: { kind: number; payload: Uint8Array }[] = [];
  while (at < rings.counter("rxProd")) {
    const h = decodeRecordHeader(rings.get("rx", at, RECORD_HEADER_SIZE));
    got.push({ kind: h.kind, payload: rings.get("rx", at + RECORD_HEADER_SIZE, h.length) });
    at += RECORD_HEADER_SIZE + h.length;
  }
  assert.deepEqual(
    got.map((r) => r.kind),
    [NIC_RECORD_KIND.OPEN, NIC_RECORD_KIND.DATA, NIC_RECORD_KIND.DATA, NIC_RECORD_KIND.DATA],
  );
  assert.equal(new TextDecoder().decode(got[0]!.payload), "peer");
  assert.deepEqual(got.slice(1).map((r) => r.payload), payloads);
  assert.equal(counters.get("nic.rx.records"), 4);
  // A fill that wraps at the ring's end is two writes.
  rings.setCounter("rxCons", rings.counter("rxProd"));
  relay.injectSession([new Uint8Array(4096 - at - 2 * RECORD_HEADER_SIZE + 50).fill(9)], "again");
  writes.length = 0;
  relay.pump();
  assert.equal(writes.filter(([g]) => g >= 0x1000 && g < 0x2000).length, 2);
});
