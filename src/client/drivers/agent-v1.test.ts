import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, describe, it } from "node:test";
import { v1 } from "../../shared/protocol/index.js";
import { PageTableBuilder } from "../arch/testing/page-tables.js";
import { Vmi, VmiError, kva, pa } from "../vmi/index.js";
import { AgentV1Driver, connectAgent, connectBaseline, type AgentConnectOptions } from "./agent-v1.js";
import { SessionError } from "./errors.js";
import type { TrapEvent } from "./events.js";
import { ownerIdentity } from "./owner-certificate.js";
import { TEST_MEASUREMENT, TestAgent, startTlsRelay, testEvidence, type TestAgentOptions } from "./testing/test-agent.js";

const owner = ownerIdentity(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
const agents: TestAgent[] = [];
const drivers: AgentV1Driver[] = [];
after(async () => {
  await Promise.all(drivers.map((d) => d.close().catch(() => undefined)));
  await Promise.all(agents.map((a) => a.close()));
});

async function agent(o: Partial<TestAgentOptions> = {}): Promise<TestAgent> {
  const a = await TestAgent.start({ mode: "tls", ownerKey: owner.publicKeyDer, ...o });
  agents.push(a);
  return a;
}

function opts(a: TestAgent, o: Partial<AgentConnectOptions> = {}): AgentConnectOptions {
  return { endpoint: a.endpoint, owner, measurement: TEST_MEASUREMENT, trustRoots: [testEvidence().ark], clock: testEvidence().clock, ...o };
}

async function connect(a: TestAgent, o: Partial<AgentConnectOptions> = {}): Promise<AgentV1Driver> {
  const d = await connectAgent(opts(a, o));
  drivers.push(d);
  return d;
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return b;
}

async function rejectsWith(p: Promise<unknown>, check: (e: SessionError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SessionError, `expected a SessionError, got ${String(e)}`);
    check(e);
    return true;
  });
}

describe("agent v1 driver: session setup and attestation", () => {
  it("attests the agent over TLS 1.3 and binds the report to this session", async () => {
    const a = await agent();
    const d = await connect(a);
    assert.equal(d.name, "agent");
    assert.ok(d.attestation);
    assert.equal(d.attestation.product, "milan");
    assert.deepEqual(d.attestation.report.reportData, d.attestation.reportData);
    assert.equal(d.attestation.nonce.length, 32);
    assert.equal(d.attestation.report.vmpl, 0);
    // Nothing but AttestRequest went out before the attestation was accepted.
    assert.equal(a.log[0]!.op, "attest");
    assert.equal(a.log[1]!.op, "machineInfo");
    const info = await d.info();
    assert.equal(info.vcpuCount, 2);
    assert.equal(info.maxPhysAddress, 64n << 20n);
    assert.deepEqual(d.agentRegion, { start: 64n << 20n, end: 80n << 20n });
  });

  it("refuses a report bound to another nonce", async () => {
    const a = await agent({ attestAttack: "wrong-nonce" });
    await rejectsWith(connect(a), (e) => {
      assert.equal(e.code, "ATTESTATION_REJECTED");
      assert.deepEqual(e.details["codes"], ["REPORT_DATA_MISMATCH"]);
      assert.match(e.message, /policy\.reportData: REPORT_DATA_MISMATCH/);
    });
  });

  it("refuses another session's report (replayed)", async () => {
    const a = await agent({ attestAttack: "replay" });
    await connect(a);
    await rejectsWith(connect(a), (e) => {
      assert.equal(e.code, "ATTESTATION_REJECTED");
      assert.deepEqual(e.details["codes"], ["REPORT_DATA_MISMATCH"]);
    });
  });

  it("refuses the real agent's report relayed by a man in the middle (the exporters differ)", async () => {
    const real = await agent();
    const relay = await startTlsRelay({ host: "127.0.0.1", port: real.port }, owner);
    try {
      await rejectsWith(connectAgent(opts(real, { endpoint: relay.endpoint })), (e) => {
        assert.equal(e.code, "ATTESTATION_REJECTED");
        assert.deepEqual(e.details["codes"], ["REPORT_DATA_MISMATCH"]);
      });
      assert.equal(real.sessions, 1, "the relay did reach the real agent");
      assert.equal(real.log[0]!.op, "attest");
    } finally {
      await relay.close();
    }
  });

  it("refuses a wrong measurement", async () => {
    const a = await agent();
    await rejectsWith(connect(a, { measurement: new Uint8Array(48).fill(1) }), (e) => {
      assert.equal(e.code, "ATTESTATION_REJECTED");
      assert.deepEqual(e.details["codes"], ["MEASUREMENT_MISMATCH"]);
    });
  });

  it("refuses a chain to a root the owner did not pass (the simulator's ARK is never trusted by default)", async () => {
    const a = await agent();
    await rejectsWith(connect(a, { trustRoots: [] }), (e) => {
      assert.equal(e.code, "ATTESTATION_REJECTED");
      assert.ok((e.details["codes"] as string[]).includes("ARK_NOT_TRUSTED"));
    });
  });

  it("refuses a report from VMPL 1 and a debuggable guest", async () => {
    const a = await agent({ report: { vmpl: 1 } });
    await rejectsWith(connect(a), (e) => assert.deepEqual(e.details["codes"], ["VMPL_MISMATCH"]));
    const b = await agent({ report: { policy: 0x30000n | (1n << 19n) } });
    await rejectsWith(connect(b), (e) => assert.deepEqual(e.details["codes"], ["DEBUG_ALLOWED"]));
  });

  it("explains when the agent refuses our owner key", async () => {
    const other = ownerIdentity(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey);
    const a = await agent({ ownerKey: other.publicKeyDer });
    await rejectsWith(connect(a), (e) => {
      assert.equal(e.code, "SESSION_CLOSED");
      assert.match(e.message, /owner key/);
    });
  });

  it("fails with UNREACHABLE on a closed port and TLS_FAILED on a non-TLS peer", async () => {
    const a = await agent();
    const o = opts(a);
    await a.close();
    agents.splice(agents.indexOf(a), 1);
    await rejectsWith(connectAgent(o), (e) => {
      assert.equal(e.code, "UNREACHABLE");
      assert.match(e.message, /ECONNREFUSED/);
    });
    const plain = await agent({ mode: "plain" });
    await rejectsWith(connectAgent(opts(plain, { timeoutMs: 2000 })), (e) => assert.equal(e.code, "TLS_FAILED"));
  });

  it("times out when the agent never answers the attestation", async () => {
    const a = await agent({ stallAfter: 0 });
    await rejectsWith(connect(a, { timeoutMs: 300, heartbeatMs: 0 }), (e) => {
      assert.equal(e.code, "AGENT_TIMEOUT");
      assert.equal(e.message, "agent did not answer within 0.3 s; the host may be delaying the agent");
    });
  });
});

describe("agent v1 driver: memory", () => {
  it("splits a large scatter-gather read by the agent's limits and pipelines the pieces", async () => {
    const a = await agent();
    const big = pattern((1 << 20) + 12345, 1);
    a.memory.poke(0x200000n, big);
    const small = pattern(100, 2);
    a.memory.poke(0x10n, small);
    const d = await connect(a);
    const before = a.log.length;
    const [r1, r2, r3] = await d.readPhys([
      { gpa: 0x200000n, len: big.length },
      { gpa: 0x10n, len: 100 },
      { gpa: 0x5000n, len: 0 },
    ]);
    assert.deepEqual(r1, big);
    assert.deepEqual(r2, small);
    assert.deepEqual(r3, new Uint8Array(0));
    const reads = a.log.slice(before).filter((l) => l.op === "readPhys");
    assert.ok(reads.length >= Math.ceil(big.length / (256 << 10)));
    for (const l of reads) {
      assert.ok(l.entries <= a.limits.maxBatchEntries);
      assert.ok(l.bytes <= Number(a.limits.maxBatchBytes));
    }
    assert.equal(
      reads.reduce((s, l) => s + l.bytes, 0),
      big.length + 100,
    );
    assert.ok(a.maxConcurrent > 1, "requests were pipelined");
    assert.ok(a.maxConcurrent <= a.limits.maxInFlight, "within the agent's window");
    assert.ok(d.stats.maxInFlight <= a.limits.maxInFlight);
  });

  it("matches replies that come back out of order", async () => {
    const a = await agent({ replyOrder: "reverse" });
    for (let i = 0; i < 12; i++) a.memory.poke(BigInt(i) * 0x10000n, pattern(3000, i));
    const d = await connect(a);
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => d.readPhys([{ gpa: BigInt(i) * 0x10000n, len: 3000 }])));
    rs.forEach((r, i) => assert.deepEqual(r[0], pattern(3000, i)));
  });

  it("reports a range beyond guest RAM as INVALID_ADDRESS at the first bad byte, the others still read", async () => {
    const a = await agent();
    const d = await connect(a);
    const end = 64n << 20n;
    const [bad, good] = await d.readPhys([
      { gpa: end - 0x100n, len: 0x200 },
      { gpa: 0n, len: 16 },
    ]);
    assert.ok(bad instanceof VmiError);
    assert.equal(bad.code, "INVALID_ADDRESS");
    assert.equal(bad.details["address"], end);
    assert.ok(good instanceof Uint8Array);
  });

  it("writes in batches and invalidates what it wrote", async () => {
    const a = await agent();
    const d = await connect(a);
    const data = pattern(300_000, 5);
    const res = await d.writePhys([
      { gpa: 0x100000n, data },
      { gpa: (64n << 20n) - 2n, data: new Uint8Array(4) },
    ]);
    assert.equal(res[0], undefined);
    assert.equal(res[1]?.code, "INVALID_ADDRESS");
    assert.deepEqual(a.memory.peek(0x100000n, data.length), data);
    for (const l of a.log.filter((x) => x.op === "writePhys")) assert.ok(l.frameBytes <= a.limits.maxFrameBytes);
  });

  it("splits translations and virtual reads by the agent's limits", async () => {
    const a = await agent();
    const pt = new PageTableBuilder(a.memory, 4, 0x400000n);
    for (let i = 0n; i < 40n; i++) pt.map(0x10000000n + i * 0x1000n, 0x1000000n + i * 0x1000n);
    a.memory.poke(0x1000000n, pattern(40 * 4096, 4));
    const d = await connect(a);
    const before = a.log.length;
    const vas = Array.from({ length: 40 }, (_, i) => 0x10000000n + BigInt(i) * 0x1000n + 8n);
    const ts = await d.translate(pt.root, vas);
    assert.deepEqual(
      ts.map((t) => (t instanceof VmiError ? t.code : t.pa)),
      vas.map((_, i) => 0x1000000n + BigInt(i) * 0x1000n + 8n),
    );
    const tr = a.log.slice(before).filter((l) => l.op === "translate");
    assert.deepEqual(
      tr.map((l) => l.entries),
      [16, 16, 8],
    );
    const [v] = await d.readVirt(pt.root, [{ va: 0x10000000n, len: 40 * 4096 }]);
    assert.deepEqual(v, pattern(40 * 4096, 4));
    for (const l of a.log.filter((x) => x.op === "readVirt")) assert.ok(l.bytes <= Number(a.limits.maxBatchBytes) && l.entries <= a.limits.maxBatchEntries);
  });

  it("walks page tables in the agent (translate, readVirt) and serves a Vmi", async () => {
    const a = await agent();
    const pt = new PageTableBuilder(a.memory, 4, 0x400000n);
    pt.map(0xffffffff81000000n, 0x800000n, 0x200000n);
    pt.map(0x7f0000001000n, 0x30000n);
    a.memory.poke(0x800000n + 0x1234n, new TextEncoder().encode("Linux version 6.1\0"));
    a.memory.poke(0x30010n, pattern(64, 9));
    const d = await connect(a);
    const [t, miss] = await d.translate(pt.root, [0xffffffff81001234n, 0xffffffff90000000n]);
    assert.ok(!(t instanceof VmiError));
    assert.equal(t!.pa, 0x801234n);
    assert.equal(t!.pageSize, 0x200000n);
    assert.ok(miss instanceof VmiError && miss.code === "PAGE_FAULT");
    const [v] = await d.readVirt(pt.root, [{ va: 0x7f0000001010n, len: 64 }]);
    assert.deepEqual(v, pattern(64, 9));
    const [f] = await d.readVirt(pt.root, [{ va: 0x7f0000001ff0n, len: 0x20 }]);
    assert.ok(f instanceof VmiError && f.code === "PAGE_FAULT");
    assert.equal(f.details["address"], 0x7f0000002000n);
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(await vmi.readCString(kva(0xffffffff81001234n)), "Linux version 6.1");
  });
});

describe("agent v1 driver: framed virtual reads and GatherList", () => {
  /** Kernel pages KBASE+i*4K on frames in reverse order, so neighbours never touch. */
  const KBASE = 0xffffffff81000000n;
  async function mapped(o: Partial<TestAgentOptions> = {}) {
    const a = await agent(o);
    const pt = new PageTableBuilder(a.memory, 4, 0x400000n);
    for (let i = 0n; i < 64n; i++) pt.map(KBASE + i * 0x1000n, 0x2000000n - i * 0x1000n);
    const frameOf = (va: bigint) => (0x2000000n - ((va - KBASE) & ~0xfffn)) >> 12n;
    return { a, pt, frameOf };
  }
  /** A circular list of `n` nodes (next at +0, index at +8), its head at KBASE + 0x10; node i on page 2 + (i * 7 % 50). */
  function list(a: TestAgent, n: number) {
    const head = KBASE + 0x10n;
    const nodes = Array.from({ length: n }, (_, i) => KBASE + BigInt(2 + ((i * 7) % 50)) * 0x1000n + BigInt(i * 16));
    const paOf = (va: bigint) => 0x2000000n - ((va - KBASE) & ~0xfffn) + (va & 0xfffn);
    [head, ...nodes].forEach((x, i, all) => {
      a.memory.poke64(paOf(x), all[(i + 1) % all.length]!);
      a.memory.poke64(paOf(x) + 8n, BigInt(i));
    });
    return { head, nodes, paOf };
  }

  it("names the frame behind every page a virtual read touched, also across the pieces of a split range", async () => {
    const { a, pt, frameOf } = await mapped();
    const d = await connect(a);
    const va = KBASE + 0x1ff0n;
    const len = 100 * 1024; // > maxRangeBytes (64 KiB): two pieces, split inside a page
    const [r, small] = await d.readVirtFrames(pt.root, [{ va, len }, { va: KBASE + 0x20n, len: 8 }]);
    if (r === undefined || r instanceof VmiError || small === undefined || small instanceof VmiError) assert.fail(`${String(r)} ${String(small)}`);
    const pages = Array.from({ length: 26 }, (_, i) => frameOf(KBASE + 0x1000n + BigInt(i) * 0x1000n));
    assert.deepEqual(r.frames, pages);
    assert.deepEqual(small.frames, [frameOf(KBASE)]);
    assert.deepEqual(a.log.filter((l) => l.op === "readVirt").map((l) => l.entries), [3], "the long range went as two pieces");
    const [f] = await d.readVirtFrames(pt.root, [{ va: KBASE + 0x40000n, len: 8 }]);
    assert.ok(f instanceof VmiError && f.code === "PAGE_FAULT");
    const old = await mapped({ noFrames: true });
    const [o] = await (await connect(old.a)).readVirtFrames(old.pt.root, [{ va: KBASE, len: 8 }]);
    assert.ok(o !== undefined && !(o instanceof VmiError) && o.frames === undefined, "an agent without frames: the data, no frames");
  });

  it("gives a paused Vmi one request per new page (a framed readVirt), and an older agent translate + readPhys", async () => {
    for (const noFrames of [false, true]) {
      const { a, pt } = await mapped({ noFrames });
      a.memory.poke(0x2000000n - 0x3000n + 0x10n, Uint8Array.of(0x5a));
      const d = await connect(a);
      const vmi = await Vmi.open(d, { kernelDtb: pt.root });
      await vmi.pause();
      const n = a.log.length;
      assert.equal(await vmi.u8(kva(KBASE + 0x3010n)), 0x5a);
      assert.equal(await vmi.u8(kva(KBASE + 0x4010n)), 0);
      assert.equal(await vmi.u8(kva(KBASE + 0x3011n)), 0, "cached");
      const ops = a.log.slice(n).map((l) => l.op);
      assert.deepEqual(ops, noFrames ? ["readVirt", "translate", "readPhys", "translate", "readPhys"] : ["readVirt", "readVirt"]);
    }
  });

  it("chases a list in one request, or continues over several when the agent caps the nodes per reply", async () => {
    const { a, pt } = await mapped();
    const { head, nodes } = list(a, 9);
    const d = await connect(a);
    const spec = { dtb: pt.root, head, nextOffset: 0, stop: head, maxNodes: 100, readOffset: 8, readLen: 8 };
    const n = a.log.length;
    const g = await d.gatherList(spec);
    assert.deepEqual(g.nodes, nodes);
    assert.deepEqual(g.reads.map((r) => (r instanceof Uint8Array ? r[0] : r)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(g.stop, "reached");
    assert.deepEqual(a.log.slice(n).map((l) => l.op), ["gatherList"]);
    // The driver asks for what the agent's limits allow per reply (16 entries here) and goes on.
    const m = a.log.length;
    const long = await d.gatherList({ ...spec, maxNodes: 5 });
    assert.deepEqual([long.nodes, long.stop], [nodes.slice(0, 5), "max-nodes"]);
    const capped = await agent({ gatherCap: 2 });
    capped.memory.frames.clear();
    for (const [f, b] of a.memory.frames) capped.memory.frames.set(f, b);
    const d2 = await connect(capped);
    const g2 = await d2.gatherList(spec);
    assert.deepEqual([g2.nodes, g2.stop], [nodes, "reached"]);
    assert.equal(capped.log.filter((l) => l.op === "gatherList").length, 5);
    assert.equal(a.log.length - m, 1);
  });

  it("ends a cycle that spans requests without repeating a node, halves on TOO_LARGE, and says UNSUPPORTED for an older agent", async () => {
    const { a, pt } = await mapped({ gatherCap: 2, gatherTooLargeAbove: 4 });
    const { head, nodes, paOf } = list(a, 6);
    a.memory.poke64(paOf(nodes[5]!), nodes[1]!); // 0 → 1 → … → 5 → 1
    const d = await connect(a);
    const g = await d.gatherList({ dtb: pt.root, head, nextOffset: 0, stop: head, maxNodes: 100, readOffset: 0, readLen: 16 });
    assert.deepEqual([g.nodes, g.stop], [nodes, "cycle"]);
    const asked = a.log.filter((l) => l.op === "gatherList").map((l) => l.entries);
    assert.deepEqual(asked.slice(0, 3), [16, 8, 4], "16 refused, 8 refused, then 4");
    const old = await mapped({ noGather: true });
    await assert.rejects((await connect(old.a)).gatherList({ dtb: old.pt.root, head, nextOffset: 0, stop: head, maxNodes: 10, readOffset: 0, readLen: 8 }), (e: unknown) => e instanceof VmiError && e.code === "UNSUPPORTED");
    await assert.rejects(d.gatherList({ dtb: pt.root, head, nextOffset: 0, stop: head, maxNodes: 10, readOffset: 0, readLen: 1 << 20 }), (e: unknown) => e instanceof VmiError && e.code === "BAD_ARGUMENT");
  });
});

describe("agent v1 driver: registers, pause, events", () => {
  it("pauses for the session by default, or until resumed (by any session)", async () => {
    const a = await agent();
    const d1 = await connect(a);
    const vmi = await Vmi.open(d1);
    await vmi.pause();
    assert.deepEqual(a.pauses, [false], "the tools' pause is session-scoped");
    await d1.close();
    while (a.paused) await new Promise((r) => setTimeout(r, 5));
    const d2 = await connect(a);
    assert.deepEqual(await d2.pauseVcpus({ untilResumed: true }), { stopped: [0, 1], alreadyStopped: [] });
    await d2.close();
    const d3 = await connect(a);
    assert.deepEqual((await d3.heartbeat()).stoppedVcpus, [0, 1], "still paused after its session ended");
    assert.deepEqual(await d3.resumeVcpus(), { resumed: [0, 1], stillHeld: [] });
    assert.deepEqual((await d3.heartbeat()).stoppedVcpus, []);
    assert.deepEqual(a.pauses, [false, true]);
  });

  it("a tool's pause and resume leave an owner's pause in place", async () => {
    const a = await agent();
    const owner1 = await connect(a);
    await owner1.pauseVcpus({ untilResumed: true });
    await owner1.close();
    const toolDriver = await connect(a);
    const tool = await Vmi.open(toolDriver);
    await tool.pause();
    await tool.resume();
    assert.equal(a.paused, true, "still paused: the tool did not make that pause");
    assert.equal(a.log.filter((l) => l.op === "resume").length, 0);
    await toolDriver.close();
    const owner2 = await connect(a);
    assert.deepEqual((await owner2.heartbeat()).stoppedVcpus, [0, 1], "the owner's pause outlived the tool's session");
    await owner2.resumeVcpus();
    assert.equal(a.paused, false);
    // On a running guest the tool's pause is its own, and its resume is sent.
    const tool2 = await Vmi.open(await connect(a));
    await tool2.pause();
    await tool2.resume();
    assert.equal(a.paused, false);
    assert.equal(a.log.filter((l) => l.op === "resume").length, 2);
  });

  it("reads every vCPU's registers in one message and writes them only when stopped", async () => {
    const a = await agent({ vcpus: 3 });
    const d = await connect(a);
    const n = a.log.length;
    const regs = await d.getRegisters();
    assert.equal(a.log.length, n + 1);
    assert.deepEqual(
      regs.map((r) => r.vcpu),
      [0, 1, 2],
    );
    assert.equal(regs[1]!.regs.rip, 0xffffffff81000001n);
    assert.equal(regs[0]!.known.has("lstar"), true);
    await assert.rejects(d.setRegisters(1, { rax: 5n }), (e: unknown) => e instanceof VmiError && e.details["status"] === "STATUS_FAILED_PRECONDITION");
    const p = await d.pauseVcpus();
    assert.deepEqual(p.stopped, [0, 1, 2]);
    await d.setRegisters(1, { rax: 5n, rip: 0x1234n, fs: { selector: 0n, base: 0x7000n, limit: 0n, attrib: 0n } });
    const [r1] = await d.getRegisterSets([1]);
    assert.equal(r1!.regs.rax, 5n);
    assert.equal(r1!.regs.rip, 0x1234n);
    assert.equal(r1!.regs.fs.base, 0x7000n);
    assert.equal(r1!.stopped, true);
    const r = await d.resumeVcpus();
    assert.deepEqual(r.resumed, [0, 1, 2]);
    assert.equal(a.paused, false);
  });

  it("drops the owner's cache on events and on resume", async () => {
    const a = await agent();
    a.memory.poke(0x3000n, Uint8Array.of(1));
    const d = await connect(a);
    const vmi = await Vmi.open(d);
    await vmi.pause();
    assert.equal(await vmi.u8(pa(0x3000n)), 1);
    a.memory.poke(0x3000n, Uint8Array.of(2));
    assert.equal(await vmi.u8(pa(0x3000n)), 1, "served from the cache while paused");
    const trap = await d.armTrap({ gpa: 0x3000n, access: "w" });
    const seen = new Promise<void>((resolve) => d.onAgentEvent(() => resolve()));
    a.pushEvent({ trapId: trap.id, access: v1.Access.WRITE });
    await seen;
    assert.equal(await vmi.u8(pa(0x3000n)), 2, "the event dropped the cache");
  });

  it("delivers function-trap events with the register snapshot and sends the callback's answer", async () => {
    const a = await agent();
    const d = await connect(a);
    const events: TrapEvent[] = [];
    let answer: "continue" | "skip" | "hold" = "skip";
    const trap = await d.armTrap({ gpa: 0x801000n, access: "x", rips: [0xffffffff81001000n], va: 0xffffffff81001000n, dtb: 0x1000n }, (e) => {
      events.push(e);
      return answer;
    });
    const armed = a.traps.get(trap.id)!;
    assert.equal(armed.access, v1.Access.EXECUTE);
    assert.deepEqual(armed.ripFilter, [0xffffffff81001000n]);
    assert.equal(armed.va, 0xffffffff81001000n);
    assert.equal(armed.pagingLevels, 4);

    const answered = (n: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (a.answers.length >= n) {
            clearInterval(t);
            resolve();
          }
        }, 2);
      });
    const regs = { ...a.registers[1]!, rip: 0xffffffff81001000n, cr3: 0x5000n };
    const e1 = a.pushEvent({ trapId: trap.id, vcpu: 1, gva: 0xffffffff81001000n, regs });
    await answered(1);
    assert.deepEqual(a.answers[0], { eventId: e1, action: v1.EventAction.SKIP });
    assert.equal(events[0]!.kind, "execute");
    assert.equal(events[0]!.vcpu, 1);
    assert.equal(events[0]!.regs.rip, 0xffffffff81001000n);
    assert.equal(events[0]!.regs.cr3, 0x5000n);
    assert.equal(events[0]!.gva, 0xffffffff81001000n);

    // hold: nothing is sent until the owner answers
    answer = "hold";
    const held = new Promise<TrapEvent>((resolve) => d.onAgentEvent((e) => void (e.kind !== "mapping-changed" && resolve(e))));
    const e2 = a.pushEvent({ trapId: trap.id });
    const h = await held;
    assert.equal(h.eventId, e2);
    assert.equal(a.answers.length, 1);
    await d.answerEvent(e2, "continue");
    assert.deepEqual(a.answers[1], { eventId: e2, action: v1.EventAction.CONTINUE });

    // mapping changes are their own event kind
    const remapped = new Promise<unknown>((resolve) => trap.onMappingChanged(resolve));
    a.pushMappingChanged({ trapId: trap.id, va: 0xffffffff81001000n, oldGpa: 0x801000n, newGpa: 0x901000n });
    assert.deepEqual(await remapped, { kind: "mapping-changed", trapId: trap.id, vcpu: 0, va: 0xffffffff81001000n, oldGpa: 0x801000n, newGpa: 0x901000n });

    await trap.dispose();
    assert.equal(a.traps.size, 0);
    await trap.dispose();
  });

  it("answers continue by default and through the Driver subscription", async () => {
    const a = await agent();
    const d = await connect(a);
    const trap = await d.armTrap({ gpa: 0x2000n, access: "rw" });
    assert.equal(a.traps.get(trap.id)!.access, v1.Access.READ | v1.Access.WRITE);
    const kinds: string[] = [];
    d.subscribe((e) => kinds.push(`${e.kind}:${e.access}`));
    a.pushEvent({ trapId: trap.id, access: v1.Access.READ, gpa: 0x2008n });
    while (a.answers.length < 1) await new Promise((r) => setTimeout(r, 2));
    assert.equal(a.answers[0]!.action, v1.EventAction.CONTINUE);
    assert.deepEqual(kinds, ["memory-access:r"]);
    await assert.rejects(d.armTrap({ gpa: 0x2000n, access: "rq" }), (e: unknown) => e instanceof VmiError && e.code === "BAD_ARGUMENT");
  });
});

describe("agent v1 driver: liveness and failure", () => {
  it("fails outstanding calls with a clear timeout when the host withholds the agent", async () => {
    const a = await agent({ stallAfter: 2 });
    const d = await connect(a, { timeoutMs: 300, heartbeatMs: 0 });
    await assert.rejects(d.readPhys([{ gpa: 0n, len: 16 }]), (e: unknown) => {
      assert.ok(e instanceof VmiError);
      assert.equal(e.code, "DRIVER_FAILED");
      assert.equal(e.details["reason"], "AGENT_TIMEOUT");
      assert.equal(e.message, "agent did not answer within 0.3 s; the host may be delaying the agent");
      return true;
    });
  });

  it("times out a withheld request although pushed messages keep arriving (they are not answers)", { timeout: 10_000 }, async () => {
    const a = await agent({ stallAfter: 2 });
    const d = await connect(a, { timeoutMs: 300, heartbeatMs: 0 });
    const pushes = setInterval(() => a.pushMappingChanged({ trapId: 1n, va: 0x1000n, oldGpa: 0x2000n }), 50);
    try {
      await assert.rejects(d.readPhys([{ gpa: 0n, len: 16 }]), (e: unknown) => e instanceof VmiError && e.code === "DRIVER_FAILED" && e.details["reason"] === "AGENT_TIMEOUT");
    } finally {
      clearInterval(pushes);
    }
  });

  it("notices a stalled agent through heartbeats while idle", async () => {
    const a = await agent({ stallAfter: 2 });
    const d = await connect(a, { timeoutMs: 200, heartbeatMs: 20 });
    const reason = await d.ended;
    assert.equal(reason.code, "AGENT_TIMEOUT");
    assert.ok(a.log.some((l) => l.op === "heartbeat"));
  });

  it("rejects in-flight calls with DRIVER_CLOSED when the connection drops, and after close()", async () => {
    const a = await agent({ stallAfter: 2 });
    const d = await connect(a);
    const p = d.readPhys([{ gpa: 0n, len: 16 }]);
    setTimeout(() => a.dropConnection(), 20);
    await assert.rejects(p, (e: unknown) => e instanceof VmiError && e.code === "DRIVER_CLOSED");
    const b = await agent();
    const d2 = await connect(b);
    await d2.close();
    await assert.rejects(d2.readPhys([{ gpa: 0n, len: 1 }]), (e: unknown) => e instanceof VmiError && e.code === "DRIVER_CLOSED");
  });
});

describe("baseline driver", () => {
  it("speaks the same v1 over plain TCP without attestation or events", async () => {
    const a = await agent({ mode: "plain", noTraps: true });
    a.memory.poke(0x1000n, pattern(5000, 3));
    const d = await connectBaseline({ endpoint: a.endpoint });
    drivers.push(d);
    assert.equal(d.name, "baseline");
    assert.equal(d.attestation, undefined);
    assert.equal(d.capabilities.events, false);
    assert.equal(a.log[0]!.op, "machineInfo");
    const [r] = await d.readPhys([{ gpa: 0x1000n, len: 5000 }]);
    assert.deepEqual(r, pattern(5000, 3));
    assert.throws(() => d.subscribe(() => undefined), (e: unknown) => e instanceof VmiError && e.code === "UNSUPPORTED");
    await assert.rejects(d.armTrap({ gpa: 0n, access: "r" }), (e: unknown) => e instanceof VmiError && e.code === "UNSUPPORTED");
  });

  it("rejects a bad endpoint string", async () => {
    await assert.rejects(connectBaseline({ endpoint: "nonsense" }), (e: unknown) => e instanceof SessionError && /HOST:PORT/.test(e.message));
  });
});
