import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { encodeFrame, encodeMessageFrame, encodeVarint, v1 } from "../../shared/protocol/index.js";
import { VMSA } from "../../shared/spec/index.js";
import { Status } from "../errors.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { TestPageTables } from "../testing/page-tables.js";
import type { ReportOutcome, ReportProvider } from "./core.js";

const S = v1.Status;

function rig(p: Parameters<typeof serviceRig>[0] = {}) {
  const r = serviceRig(p);
  return { ...r, c: new V1Client(r.core) };
}

test("machine info reports the layout, limits and version", () => {
  const { m, c } = rig();
  const r = c.call({ case: "machineInfo", value: {} });
  assert.equal(r.status, S.OK);
  assert.equal(r.body.case, "machineInfo");
  const mi = r.body.value as v1.MachineInfo;
  assert.equal(mi.vcpus, 2);
  assert.equal(mi.memoryBytes, m.layout.memoryBytes);
  assert.equal(mi.guestRamEnd, m.layout.guestRamEnd);
  assert.equal(mi.agentRegion?.start, m.layout.agentBase);
  assert.equal(mi.cBit, 51);
  assert.equal(mi.limits?.maxTraps, 256);
  assert.equal(mi.legacyV0Allowed, true);
});

test("physical reads: scatter-gather, per-range OUT_OF_RANGE for the agent region and beyond, partial data", () => {
  const { m, c } = rig();
  m.poke(0x20000n, Uint8Array.from([1, 2, 3, 4]));
  m.poke(m.layout.guestRamEnd - 2n, Uint8Array.of(9, 8));
  const r = c.call({
    case: "readPhys",
    value: { ranges: [{ addr: 0x20000n, len: 4 }, { addr: m.layout.agentBase, len: 16 }, { addr: m.layout.guestRamEnd - 2n, len: 4 }, { addr: 1n << 60n, len: 1 }, { addr: 0x20001n, len: 0 }] },
  });
  assert.equal(r.status, S.OK);
  const chunks = (r.body.value as v1.ReadResponse).chunks;
  assert.deepEqual([...chunks[0]!.data], [1, 2, 3, 4]);
  assert.equal(chunks[1]!.status, S.OUT_OF_RANGE);
  assert.equal(chunks[1]!.data.length, 0);
  assert.equal(chunks[2]!.status, S.OUT_OF_RANGE);
  assert.deepEqual([...chunks[2]!.data], [9, 8]);
  assert.equal(chunks[2]!.faultAddr, m.layout.guestRamEnd);
  assert.equal(chunks[3]!.status, S.OUT_OF_RANGE);
  assert.equal(chunks[4]!.status, S.OK);
  // Nothing of the agent region was read: the secrets page never left.
  assert.ok(chunks.every((ch) => ch.data.length <= 4));
});

test("batch bounds: too many entries, a range too long, too many bytes → TOO_LARGE", () => {
  const { c } = rig({ limits: { maxBatchEntries: 4, maxRangeBytes: 8192, maxBatchBytes: 16384 } });
  const many = Array.from({ length: 5 }, () => ({ addr: 0n, len: 1 }));
  assert.equal(c.call({ case: "readPhys", value: { ranges: many } }).status, S.TOO_LARGE);
  assert.equal(c.call({ case: "readPhys", value: { ranges: [{ addr: 0n, len: 8193 }] } }).status, S.TOO_LARGE);
  assert.equal(c.call({ case: "readPhys", value: { ranges: [{ addr: 0n, len: 8192 }, { addr: 0n, len: 8192 }, { addr: 0n, len: 1 }] } }).status, S.TOO_LARGE);
  assert.equal(c.call({ case: "writePhys", value: { writes: [{ addr: 0n, data: new Uint8Array(8193) }] } }).status, S.TOO_LARGE);
  assert.equal(c.call({ case: "translate", value: { dtb: 0n, vas: [1n, 2n, 3n, 4n, 5n] } }).status, S.TOO_LARGE);
});

test("physical writes land in guest RAM; the agent region is refused", () => {
  const { m, c } = rig();
  const r = c.call({ case: "writePhys", value: { writes: [{ addr: 0x30ffen, data: Uint8Array.of(7, 7, 7, 7) }, { addr: m.layout.secrets, data: new Uint8Array(32) }] } });
  assert.deepEqual((r.body.value as v1.WriteResponse).statuses, [S.OK, S.OUT_OF_RANGE]);
  assert.deepEqual([...m.peek(0x30ffen, 4)], [7, 7, 7, 7]);
});

test("a page the host took away reads as UNAVAILABLE (no crash, no retry loop)", () => {
  const { m, c } = rig();
  m.rmp.set(0x40, { assigned: false, validated: false, vmsa: false, perms1: 0 });
  m.rmp.set(0x41, { assigned: true, validated: false, vmsa: false, perms1: 0 });
  const r = c.call({ case: "readPhys", value: { ranges: [{ addr: 0x40000n, len: 8 }, { addr: 0x41000n, len: 8 }] } });
  const chunks = (r.body.value as v1.ReadResponse).chunks;
  // An unassigned page is read as shared (C=0) — the guest may have shared it; unvalidated is refused.
  assert.equal(chunks[0]!.status, S.OK);
  assert.equal(chunks[1]!.status, S.UNAVAILABLE);
});

test("virtual reads, writes and translations walk the guest's tables in the agent (4 KiB, 2 MiB, C-bit masked)", () => {
  const { m, c } = rig();
  const pt = new TestPageTables(m, 0x100000n);
  pt.map4k(0xffff_8000_0000_1000n, 0x200000n);
  pt.map4k(0xffff_8000_0000_2000n, 0x203000n);
  pt.map2m(0xffff_8000_4000_0000n, 0x400000n);
  m.poke(0x200ffcn, Uint8Array.of(1, 2, 3, 4));
  m.poke(0x203000n, Uint8Array.of(5, 6));
  m.poke(0x412345n, Uint8Array.of(0xaa));
  const dtb = pt.root | pt.c | 0x5n;
  const r = c.call({ case: "readVirt", value: { dtb, ranges: [{ addr: 0xffff_8000_0000_1ffcn, len: 6 }, { addr: 0xffff_8000_4001_2345n, len: 1 }, { addr: 0xffff_8000_0000_3000n, len: 4 }] } });
  const ch = (r.body.value as v1.ReadResponse).chunks;
  assert.deepEqual([...ch[0]!.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...ch[1]!.data], [0xaa]);
  assert.equal(ch[2]!.status, S.PAGE_FAULT);
  assert.equal(ch[2]!.faultAddr, 0xffff_8000_0000_3000n);
  const w = c.call({ case: "writeVirt", value: { dtb, writes: [{ addr: 0xffff_8000_0000_1ffen, data: Uint8Array.of(0x11, 0x22, 0x33) }] } });
  assert.deepEqual((w.body.value as v1.WriteResponse).statuses, [S.OK]);
  assert.deepEqual([...m.peek(0x200ffen, 2)], [0x11, 0x22]);
  assert.equal(m.peek(0x203000n, 1)[0], 0x33);
  const t = c.call({ case: "translate", value: { dtb, vas: [0xffff_8000_0000_1abcn, 0xffff_8000_4001_2345n, 0xffff_8000_0000_3000n, 0x8000_0000_0000n] } });
  const tr = (t.body.value as v1.TranslateResponse).translations;
  assert.equal(tr[0]!.gpa, 0x200abcn);
  assert.equal(tr[0]!.pageSize, 4096n);
  assert.equal(tr[1]!.gpa, 0x412345n);
  assert.equal(tr[1]!.pageSize, 2n << 20n);
  assert.equal(tr[2]!.status, S.PAGE_FAULT);
  assert.equal(tr[2]!.faultLevel, 1);
  assert.equal(tr[3]!.status, S.PAGE_FAULT);
  assert.equal(c.call({ case: "translate", value: { dtb, vas: [0n], pagingLevels: 3 } }).status, S.INVALID_ARGUMENT);
});

test("a page walk never reads the agent region: tables pointing there fail with OUT_OF_RANGE", () => {
  const { m, c } = rig();
  const pt = new TestPageTables(m, 0x100000n);
  pt.map4k(0x1000n, m.layout.secrets);
  const r = c.call({ case: "readVirt", value: { dtb: pt.root, ranges: [{ addr: 0x1000n, len: 8 }] } });
  assert.equal((r.body.value as v1.ReadResponse).chunks[0]!.status, S.OUT_OF_RANGE);
  const reads = m.ops.reads;
  const r2 = c.call({ case: "translate", value: { dtb: m.layout.agentBase, vas: [0x1000n] } });
  assert.equal((r2.body.value as v1.TranslateResponse).translations[0]!.status, S.OUT_OF_RANGE);
  assert.equal(m.ops.reads, reads);
});

test("registers: full sets from the VMPL1 VMSAs; NOT_FOUND for a bad vCPU; writes need a stopped vCPU", () => {
  const { m, c } = rig();
  m.setVmsa1Field(1, "cr3", 0x1234000n);
  m.setVmsa1Field(1, "lstar", 0xffffffff81000000n);
  const r = c.call({ case: "getRegisters", value: { vcpus: [] } });
  const sets = (r.body.value as v1.RegistersResponse).sets;
  assert.equal(sets.length, 2);
  assert.equal(sets[1]!.cr3, 0x1234000n);
  assert.equal(sets[1]!.lstar, 0xffffffff81000000n);
  assert.equal(sets[0]!.rip, 0xfff0n);
  assert.equal(sets[0]!.cs?.base, 0xffff0000n);
  assert.equal(c.call({ case: "getRegisters", value: { vcpus: [2] } }).status, S.NOT_FOUND);
  const w = { vcpu: 1, writes: [{ reg: v1.Register.RAX, value: 42n }] };
  assert.equal(c.call({ case: "setRegisters", value: w }).status, S.FAILED_PRECONDITION);
  assert.equal(c.call({ case: "pause", value: {} }).status, S.OK);
  assert.equal(c.call({ case: "setRegisters", value: w }).status, S.OK);
  assert.equal(m.vmsa1Field(1, "rax"), 42n);
  assert.equal(c.call({ case: "setRegisters", value: { vcpu: 1, writes: [{ reg: 99 as v1.Register, value: 1n }] } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "setRegisters", value: { vcpu: 1, writes: [{ reg: v1.Register.REGISTER_UNSPECIFIED, value: 1n }] } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "setRegisters", value: { vcpu: 7, writes: [] } }).status, S.NOT_FOUND);
  c.call({ case: "setRegisters", value: { vcpu: 0, writes: [{ reg: v1.Register.FS_BASE, value: 0x7000n }] } });
  assert.equal(m.peek64(m.layout.vmsa1[0]! + BigInt(VMSA.offsetOf("fs_base"))), 0x7000n);
});

test("secure pause clears the VMSA bit of every VMPL1 VMSA; resume restores it; stopped lists", () => {
  const { m, c } = rig();
  const p = c.call({ case: "pause", value: {} });
  assert.deepEqual((p.body.value as v1.PauseResponse).stopped, [0, 1]);
  assert.ok(!m.runnable(0) && !m.runnable(1));
  const p2 = c.call({ case: "pause", value: {} });
  assert.deepEqual((p2.body.value as v1.PauseResponse).alreadyStopped, [0, 1]);
  const g = c.call({ case: "getRegisters", value: { vcpus: [0] } });
  assert.equal((g.body.value as v1.RegistersResponse).sets[0]!.stopped, true);
  const r = c.call({ case: "resume", value: {} });
  assert.deepEqual((r.body.value as v1.ResumeResponse).resumed, [0, 1]);
  assert.ok(m.runnable(0) && m.runnable(1));
});

test("envelope errors: id 0, no operation, a duplicate id in flight, too many in flight", () => {
  let done: ((r: ReportOutcome) => void) | undefined;
  const provider: ReportProvider = { request: (_d, cb) => ((done = cb), true) };
  const { c } = rig({ attestation: provider, limits: { maxInFlight: 2 } });
  c.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 0n, op: { case: "heartbeat", value: {} } })));
  assert.equal(c.drain().length, 0);
  assert.equal(c.pushed.pop()?.status, S.INVALID_ARGUMENT);
  c.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 5n })));
  assert.equal(c.drain()[0]!.status, S.INVALID_ARGUMENT);
  c.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 9n, op: { case: "attest", value: { nonce: new Uint8Array(32) } } })));
  assert.equal(c.drain().length, 0);
  assert.equal(c.call({ case: "heartbeat", value: {} }, 9n).status, S.INVALID_ARGUMENT);
  // With one request in flight and maxInFlight 2, a burst of three: the third is refused.
  const burst = [10n, 11n, 12n].map((id) => encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op: { case: "heartbeat", value: {} } })));
  c.session.accept(Uint8Array.from(burst.flatMap((b) => [...b])));
  const refused = c.drain();
  assert.deepEqual(refused.map((x) => [x.id, x.status]), [[11n, S.RESOURCE_EXHAUSTED], [12n, S.RESOURCE_EXHAUSTED]]);
  while (c.session.step()) {
    /* drain */
  }
  assert.equal(c.drain()[0]!.status, S.OK);
  done!({ ok: false, reason: "test" });
  assert.equal(c.drain()[0]!.status, S.UNAVAILABLE);
});

test("attestation: replies out of order, REPORT_DATA bound to nonce and exporter, bad nonce, no provider", () => {
  let seen: Uint8Array | undefined;
  let done: ((r: ReportOutcome) => void) | undefined;
  const provider: ReportProvider = { request: (d, cb) => ((seen = d), (done = cb), true) };
  const { c } = rig({ attestation: provider });
  c.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 1n, op: { case: "attest", value: { nonce: new Uint8Array(40).fill(3) } } })));
  const mi = c.call({ case: "machineInfo", value: {} }, 2n);
  assert.equal(mi.id, 2n);
  assert.equal(seen?.length, 64);
  done!({ ok: true, report: new Uint8Array(1184).fill(1), vcek: Uint8Array.of(0x30), chain: [Uint8Array.of(0x31)] });
  const [att] = c.drain();
  assert.equal(att!.id, 1n);
  assert.equal((att!.body.value as v1.AttestResponse).report.length, 1184);
  assert.equal(c.call({ case: "attest", value: { nonce: new Uint8Array(31) } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "attest", value: { nonce: new Uint8Array(65) } }).status, S.INVALID_ARGUMENT);
  const plain = rig();
  assert.equal(plain.c.call({ case: "attest", value: { nonce: new Uint8Array(32) } }).status, S.UNIMPLEMENTED);
  const full = rig({ attestation: { request: () => false } });
  assert.equal(full.c.call({ case: "attest", value: { nonce: new Uint8Array(32) } }).status, S.RESOURCE_EXHAUSTED);
});

test("an undecodable or oversized frame ends the session (closed, nothing sent)", () => {
  const { c } = rig();
  c.sendRaw(encodeFrame(Uint8Array.of(0xff)));
  assert.ok(c.session.closed && c.io.closed);
  assert.equal(c.io.frames.length, 0);
  const { c: c2 } = rig();
  c2.sendRaw(encodeVarint(64 << 20));
  assert.ok(c2.session.closed && c2.io.closed);
});

test("heartbeats count requests", () => {
  const { c } = rig();
  c.call({ case: "machineInfo", value: {} });
  const h = c.call({ case: "heartbeat", value: {} }).body.value as v1.Heartbeat;
  assert.equal(h.requests, 2n);
  assert.equal(h.trapsArmed, 0);
  assert.equal(Status.OK, 0);
});
