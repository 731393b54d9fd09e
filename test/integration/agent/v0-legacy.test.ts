/**
 * The prototype's v0 protocol end to end, driven by a test client written from
 * ../shared/spec/LEGACY-PROTOCOL.md alone (its own varint framing, no v1 code): TLS without
 * ALPN and without a client certificate, one request then its reply, pushes in between.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:tls";
import type { TLSSocket } from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { v0 } from "../../../src/shared/protocol/index.js";
import { startWorld, waitFor } from "./world.js";

type Req = NonNullable<MessageInitShape<typeof v0.AccessRequestSchema>["request"]>;

/** The LibVMI `tls` driver's view of the wire, per LEGACY-PROTOCOL.md. */
class LegacyClient {
  readonly pushes: v0.MonitorPageEvent[] = [];
  readonly frames: Buffer[] = [];
  #buf = Buffer.alloc(0);
  #replies: v0.AccessReply[] = [];
  #isClosed = false;
  closed: Promise<void>;

  private constructor(readonly s: TLSSocket) {
    this.closed = new Promise((r) =>
      s.on("close", () => {
        this.#isClosed = true;
        r();
      }),
    );
    s.on("error", () => undefined);
    s.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      for (;;) {
        let len = 0;
        let shift = 0;
        let i = 0;
        for (; i < this.#buf.length && i < 10; i++) {
          len += (this.#buf[i]! & 0x7f) * 2 ** shift;
          shift += 7;
          if ((this.#buf[i]! & 0x80) === 0) break;
        }
        if (i >= this.#buf.length || this.#buf.length < i + 1 + len) return;
        const frame = this.#buf.subarray(i + 1, i + 1 + len);
        // The client's receive buffer is 8192 bytes.
        assert.ok(i + 1 + len <= 8192, "a reply exceeds 8192 bytes");
        this.frames.push(Buffer.from(this.#buf.subarray(0, i + 1 + len)));
        this.#buf = this.#buf.subarray(i + 1 + len);
        const m = fromBinary(v0.AccessReplySchema, frame);
        if (m.reply.case === "agentPushMsg") {
          const p = m.reply.value.infoMessage;
          if (p.case === "mntrPageEvent") this.pushes.push(p.value);
        } else this.#replies.push(m);
      }
    });
  }

  static open(port: number): Promise<LegacyClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
      s.once("secureConnect", () => resolve(new LegacyClient(s)));
      s.once("error", reject);
    });
  }

  async call(request: Req): Promise<v0.AccessReply> {
    const body = toBinary(v0.AccessRequestSchema, create(v0.AccessRequestSchema, { request }));
    const prefix: number[] = [];
    for (let n = body.length; ; n >>>= 7) {
      if (n < 0x80) {
        prefix.push(n);
        break;
      }
      prefix.push((n & 0x7f) | 0x80);
    }
    this.s.write(Buffer.concat([Buffer.from(prefix), Buffer.from(body)]));
    await waitFor(() => this.#replies.length > 0 || this.#isClosed, 20_000, `reply to ${request.case}`);
    const r = this.#replies.shift();
    if (r === undefined) throw new Error("connection closed");
    return r;
  }
}

const OK = v0.RequestStatus.REQUEST_SUCCESS;
const st = (r: v0.AccessReply) => (r.reply.value as { status: v0.RequestStatus }).status;

test("v0: report, memory boundary, page reads, registers, pause/resume and a write trap resumed with MonitorResumeReq", async () => {
  const w = await startWorld({ legacyV0: true, vcpus: 2 });
  try {
    const c = await LegacyClient.open(w.port);
    // connect: the client fetches the report first (and does not check it).
    const rep = await c.call({ case: "attestReportReq", value: {} });
    assert.equal(rep.reply.case, "attestReportReply");
    assert.equal(st(rep), OK);
    assert.equal((rep.reply.value as v0.AttestReportReply).report.length, 1184);
    const mb = await c.call({ case: "membdReq", value: {} });
    assert.equal((mb.reply.value as v0.MemBoundaryReply).vmpl0BeginGpa, w.layout.guestRamEnd);
    // The guest writes a page pattern; the client reads it by frame number with the C-bit set.
    const pattern = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
    w.guest.push(1, { kind: "write", gpa: 0x500000n, data: pattern });
    await waitFor(() => w.guest.done.length === 1, 10_000, "the guest's write");
    const pg = await c.call({ case: "rpageReq", value: { frameNum: (0x500000n >> 12n) | (1n << 39n) } });
    assert.equal(st(pg), OK);
    assert.deepEqual(new Uint8Array((pg.reply.value as v0.PageReadReply).page), pattern);
    // Registers one by one, as LibVMI does.
    const reg = async (register: v0.RegisterID, vcpu: bigint) => ((await c.call({ case: "rregReq", value: { register, vcpu } })).reply.value as v0.RegisterReadReply).value;
    assert.equal(await reg(v0.RegisterID.CR3, 1n), 0n);
    assert.equal(await reg(v0.RegisterID.MSR_EFER, 1n), 0x1000n);
    assert.equal(await reg(v0.RegisterID.CS_SEL, 0n), 0xf000n);
    // Pause / resume.
    assert.equal(st(await c.call({ case: "pauseReq", value: {} })), OK);
    const paused = w.host.counters()["guest.retired"] ?? 0;
    w.guest.push(0, { kind: "write", gpa: 0x500100n });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(w.host.counters()["guest.retired"] ?? 0, paused);
    assert.equal(st(await c.call({ case: "resumeReq", value: {} })), OK);
    await waitFor(() => w.guest.done.length === 2, 10_000, "the guest after resume");
    // A write trap registered with the C-bit; the event reports fault_gpa with it.
    assert.equal(st(await c.call({ case: "mntrPageReq", value: { frameNum: (0x600000n >> 12n) | (1n << 39n), accessType: v0.MemAccessType.WRITE } })), OK);
    w.guest.push(1, { kind: "write", gpa: 0x600008n, data: Uint8Array.of(0x77) });
    await waitFor(() => c.pushes.length === 1, 10_000, "the event push");
    const ev = c.pushes[0]!;
    assert.equal(ev.vcpu, 1n);
    assert.equal(ev.faultGpa, 0x600008n | (1n << 51n));
    assert.equal(ev.accessType, v0.MemAccessType.WRITE);
    assert.equal(w.guest.done.length, 2, "the write is held");
    assert.equal(st(await c.call({ case: "mntrResumeReq", value: { vcpu: 1n } })), OK);
    await waitFor(() => w.guest.done.length === 3, 10_000, "the released write");
    const after = await c.call({ case: "rpageReq", value: { frameNum: 0x600000n >> 12n } });
    assert.equal((after.reply.value as v0.PageReadReply).page[8], 0x77);
    // Disconnect as the client does: pause, drain, resume.
    assert.equal(st(await c.call({ case: "mntrPageReq", value: { frameNum: 0x600000n >> 12n, accessType: v0.MemAccessType.DISABLE } })), OK);
    assert.equal(st(await c.call({ case: "pauseReq", value: {} })), OK);
    assert.equal(st(await c.call({ case: "resumeReq", value: {} })), OK);
    // Every frame: the prefix and its message arrived together, within 8192 bytes.
    for (const f of c.frames) assert.ok(f.length <= 8192);
    c.s.end();
  } finally {
    await w.close();
  }
});

test("v0 is refused when the measured configuration does not allow it", async () => {
  const w = await startWorld({ legacyV0: false });
  try {
    const c = await LegacyClient.open(w.port);
    await assert.rejects(c.call({ case: "membdReq", value: {} }));
    assert.equal(w.agent.introspect.notes["refused-v0-disabled"], 1);
  } finally {
    await w.close();
  }
});
