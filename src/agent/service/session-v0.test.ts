import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decodeVarint, encodeFrame, v0 } from "../../shared/protocol/index.js";
import { RMP_PERM, RMP_PERM_RWX } from "../../shared/spec/index.js";
import { serviceRig, V0Client } from "../testing/harness.js";
import type { ReportOutcome } from "./core.js";
import { V0_MAX_READ_BYTES, V0_MAX_REPLY_BYTES } from "./session-v0.js";

const OK = v0.RequestStatus.REQUEST_SUCCESS;
const FAILED = v0.RequestStatus.REQUEST_FAILED;
const C39 = 1n << 39n; // the C-bit (GPA bit 51) as a frame-number bit

function rig(p: Parameters<typeof serviceRig>[0] = {}) {
  const r = serviceRig(p);
  return { ...r, c: new V0Client(r.core) };
}

const status = (r: v0.AccessReply) => (r.reply.value as { status: v0.RequestStatus }).status;

test("every required field is on the wire, zeros included; one frame per reply", () => {
  const { c } = rig();
  c.session.accept(encodeFrame(Uint8Array.of(0x1a, 0x00))); // pause_req {}
  c.session.step();
  const frames = c.rawFrames();
  assert.equal(frames.length, 1);
  // prefix 4, AccessReply.pause_reply (field 3, len 2) { status (field 1) = 0 }
  assert.deepEqual([...frames[0]!], [0x04, 0x1a, 0x02, 0x08, 0x00]);
  c.io.frames.length = 0;
  c.session.accept(encodeFrame(Uint8Array.of(0x2a, 0x00))); // membd_req {}
  c.session.step();
  const f = c.rawFrames()[0]!;
  const p = decodeVarint(f)!;
  assert.equal(Number(p.value), f.length - p.length, "prefix and message in the same buffer");
  // status 0 present: field 1 varint 0 right after the inner length.
  assert.deepEqual([...f.subarray(p.length, p.length + 4)], [0x2a, f[p.length + 1]!, 0x08, 0x00]);
});

test("memory boundary, page reads with the C-bit masked, page writes within one page", () => {
  const { m, c } = rig();
  const mb = c.call({ case: "membdReq", value: {} });
  assert.equal((mb.reply.value as v0.MemBoundaryReply).vmpl0BeginGpa, m.layout.guestRamEnd);
  m.poke(0x42000n, new Uint8Array(4096).fill(0x5a));
  const r = c.call({ case: "rpageReq", value: { frameNum: 0x42n | C39 } });
  assert.equal(status(r), OK);
  assert.equal((r.reply.value as v0.PageReadReply).page.length, 4096);
  assert.equal((r.reply.value as v0.PageReadReply).page[100], 0x5a);
  const bad = c.call({ case: "rpageReq", value: { frameNum: m.layout.agentBase >> 12n } });
  assert.equal(status(bad), FAILED);
  assert.equal((bad.reply.value as v0.PageReadReply).page.length, 0);
  assert.equal(status(c.call({ case: "wpageReq", value: { paddr: 0x43ff0n | (1n << 51n), writeBuffer: Uint8Array.of(1, 2, 3) } })), OK);
  assert.deepEqual([...m.peek(0x43ff0n, 3)], [1, 2, 3]);
  assert.equal(status(c.call({ case: "wpageReq", value: { paddr: 0x43ff0n, writeBuffer: new Uint8Array(32) } })), FAILED);
  assert.equal(status(c.call({ case: "wpageReq", value: { paddr: m.layout.secrets, writeBuffer: new Uint8Array(1) } })), FAILED);
  assert.ok(c.io.sentLengths.length >= 6);
  for (const n of c.io.sentLengths) assert.ok(n <= V0_MAX_REPLY_BYTES);
});

test("DataRead/DataWrite (defined, unused by the client) are bounded and checked", () => {
  const { m, c } = rig();
  m.poke(0x44000n, Uint8Array.of(9, 9));
  const r = c.call({ case: "readReq", value: { address: 0x44000n, numBytes: 2n } });
  assert.deepEqual([...(r.reply.value as v0.DataReadReply).data], [9, 9]);
  assert.equal((r.reply.value as v0.DataReadReply).dataLen, 2n);
  assert.equal(status(c.call({ case: "readReq", value: { address: 0x44000n, numBytes: 9000n } })), FAILED);
  assert.equal(status(c.call({ case: "writeReq", value: { address: 0x44000n, dataLen: 3n, data: Uint8Array.of(1, 2) } })), FAILED);
  assert.equal(status(c.call({ case: "writeReq", value: { address: 0x44000n, dataLen: 2n, data: Uint8Array.of(1, 2) } })), OK);
});

test("registers by LibVMI number: CR3, MSR_EFER, segment parts; writes need a paused vCPU", () => {
  const { m, c } = rig();
  m.setVmsa1Field(1, "cr3", 0xabc000n);
  m.setVmsa1Field(1, "efer", 0xd01n);
  const rd = (register: v0.RegisterID, vcpu = 1n) => c.call({ case: "rregReq", value: { register, vcpu } });
  assert.equal((rd(v0.RegisterID.CR3).reply.value as v0.RegisterReadReply).value, 0xabc000n);
  assert.equal((rd(v0.RegisterID.MSR_EFER).reply.value as v0.RegisterReadReply).value, 0xd01n);
  assert.equal((rd(v0.RegisterID.CS_SEL).reply.value as v0.RegisterReadReply).value, 0xf000n);
  assert.equal((rd(v0.RegisterID.CS_BASE).reply.value as v0.RegisterReadReply).value, 0xffff0000n);
  assert.equal((rd(v0.RegisterID.CS_LIMIT).reply.value as v0.RegisterReadReply).value, 0xffffn);
  assert.equal(status(rd(v0.RegisterID.RAX, 2n)), FAILED);
  const w = { register: v0.RegisterID.RBX, vcpu: 0n, value: 77n };
  assert.equal(status(c.call({ case: "wregReq", value: w })), FAILED);
  assert.equal(status(c.call({ case: "pauseReq", value: {} })), OK);
  assert.equal(status(c.call({ case: "wregReq", value: w })), OK);
  assert.equal(m.vmsa1Field(0, "rbx"), 77n);
  assert.equal(status(c.call({ case: "resumeReq", value: {} })), OK);
  assert.ok(m.runnable(0));
});

test("required fields missing or an unknown enum value → REQUEST_FAILED of the same reply type", () => {
  const { c } = rig();
  // rpage_req {} (frame_num missing)
  c.sendRaw(encodeFrame(Uint8Array.of(0x42, 0x00)));
  let [r] = c.drain();
  assert.equal(r!.reply.case, "rpageReply");
  assert.equal(status(r!), FAILED);
  // rreg_req { register = 60 (not a RegisterID), vcpu = 0 }: proto2 enums are closed → unset.
  c.sendRaw(encodeFrame(Uint8Array.of(0x32, 0x04, 0x08, 60, 0x10, 0x00)));
  [r] = c.drain();
  assert.equal(r!.reply.case, "rregReply");
  assert.equal(status(r!), FAILED);
  assert.equal(c.session.closed, false);
});

test("the client's 1-byte length bug: truncated/corrupt requests never crash; garbage closes the session", () => {
  const { c } = rig();
  // A 300-byte page write whose length prefix was stored in one byte (300 & 0xff = 44).
  const msg = [0x4a, 0xae, 0x02, 0x08, 0x80, 0x80, 0x04, 0x12, 0xa8, 0x02, ...new Array<number>(296).fill(0x41)];
  const bytes = Uint8Array.from([44, ...msg]);
  c.session.accept(bytes);
  while (c.session.step()) {
    /* drain */
  }
  const out = c.drain();
  assert.ok(c.session.closed || out.every((r) => status(r) === FAILED));
  assert.ok(c.session.closed, "a frame that does not parse ends the session");
});

test("page trap with the C-bit: event carries fault_gpa with the same C-bit; MonitorResumeReq releases; DISABLE removes", () => {
  const { m, core, c } = rig();
  assert.equal(status(c.call({ case: "mntrPageReq", value: { frameNum: 0x55n | C39, accessType: v0.MemAccessType.WRITE } })), OK);
  assert.equal(m.perms1(0x55000n), RMP_PERM_RWX & ~RMP_PERM.WRITE);
  assert.equal(status(c.call({ case: "mntrPageReq", value: { frameNum: 0x56n, accessType: v0.MemAccessType.READ_WRITE } })), OK);
  m.guestAccess(1, 0x55008n, "write");
  core.checkFaults();
  c.drain();
  const push = c.pushed.pop()!;
  const ev = (push.reply.value as v0.AgentPush).infoMessage.value as v0.MonitorPageEvent;
  assert.equal(ev.faultGpa, 0x55008n | (1n << 51n));
  assert.equal(ev.vcpu, 1n);
  assert.equal(ev.accessType, v0.MemAccessType.WRITE);
  assert.ok(!m.runnable(1));
  assert.equal(status(c.call({ case: "mntrResumeReq", value: { vcpu: 0n } })), FAILED);
  assert.equal(status(c.call({ case: "mntrResumeReq", value: { vcpu: 1n } })), OK);
  m.guestStep(1);
  core.checkFaults();
  assert.ok(m.runnable(1) && m.runnable(0));
  // Registered without the C-bit → reported without it.
  m.guestAccess(0, 0x56010n, "read");
  core.checkFaults();
  c.drain();
  const ev2 = (c.pushed.pop()!.reply.value as v0.AgentPush).infoMessage.value as v0.MonitorPageEvent;
  assert.equal(ev2.faultGpa, 0x56010n);
  assert.equal(ev2.accessType, v0.MemAccessType.READ);
  assert.equal(status(c.call({ case: "mntrPageReq", value: { frameNum: 0x55n | C39, accessType: v0.MemAccessType.DISABLE } })), OK);
  assert.equal(m.perms1(0x55000n), RMP_PERM_RWX);
  assert.equal(status(c.call({ case: "mntrPageReq", value: { frameNum: m.layout.agentBase >> 12n, accessType: v0.MemAccessType.READ } })), FAILED);
});

test("events only for vCPU < 4: a fault on vCPU 4 continues without an event", () => {
  const { m, core, c } = rig({ vcpus: 5 });
  c.call({ case: "mntrPageReq", value: { frameNum: 0x55n, accessType: v0.MemAccessType.WRITE } });
  m.guestAccess(4, 0x55000n, "write");
  core.checkFaults();
  c.drain();
  assert.equal(c.pushed.length, 0);
  assert.ok(m.runnable(4), "stepping over");
  assert.equal(core.counters.eventsDropped, 1n);
  m.guestStep(4);
  core.checkFaults();
  assert.ok([0, 1, 2, 3, 4].every((v) => m.runnable(v)));
});

test("attestation report: bound to the agent's TLS key, FAILED without a provider", () => {
  let data: Uint8Array | undefined;
  let done: ((r: ReportOutcome) => void) | undefined;
  const { c } = rig({ attestation: { request: (d, cb) => ((data = d), (done = cb), true) } });
  c.sendRaw(encodeFrame(Uint8Array.of(0x62, 0x00)));
  assert.equal(c.drain().length, 0);
  // Strictly one request then its reply: the next request waits.
  c.sendRaw(encodeFrame(Uint8Array.of(0x2a, 0x00)));
  assert.equal(c.drain().length, 0);
  const want = createHash("sha512").update("00SEVen attestation v0").update(c.io.serverSpki!).digest();
  assert.deepEqual(Buffer.from(data!), want);
  done!({ ok: true, report: new Uint8Array(1184).fill(2), vcek: undefined, chain: [] });
  while (c.session.step()) {
    /* next request */
  }
  const [att, mb] = c.drain();
  assert.equal(att!.reply.case, "attestReportReply");
  assert.equal((att!.reply.value as v0.AttestReportReply).report.length, 1184);
  assert.equal(mb!.reply.case, "membdReply");
  const { c: c2 } = rig();
  assert.equal(status(c2.call({ case: "attestReportReq", value: {} })), FAILED);
});

test("the largest reply the agent gives (a DataReadReq of V0_MAX_READ_BYTES) still fits the client's 8192-byte buffer", () => {
  const { c } = rig();
  const r = c.call({ case: "readReq", value: { address: 0x10000n, numBytes: BigInt(V0_MAX_READ_BYTES) } });
  assert.equal(status(r), OK);
  assert.equal((r.reply.value as v0.DataReadReply).data.length, V0_MAX_READ_BYTES);
  c.call({ case: "rpageReq", value: { frameNum: 0x10n } });
  c.call({ case: "attestReportReq", value: {} });
  assert.equal(c.io.sentLengths.length, 3);
  for (const n of c.io.sentLengths) assert.ok(n <= V0_MAX_REPLY_BYTES, `${n}`);
  assert.ok(c.io.sentLengths[0]! > 8000);
});
