/**
 * Property tests on the agent's decoders of untrusted frames (v1 and v0): random bytes,
 * mutated valid requests, random splits. Only status replies or a closed session — never
 * an exception, never a hang, and never an access outside guest RAM except the VMPL1 VMSA
 * pages (registers).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeMessage, encodeFrame, FrameDecoder, v0, v1 } from "../../shared/protocol/index.js";
import { serviceRig, V0Client, V1Client } from "../testing/harness.js";
import type { ServiceRig } from "../testing/harness.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

function allowed(r: ServiceRig, a: { gpa: bigint; len: number }): boolean {
  const end = a.gpa + BigInt(a.len);
  if (end <= r.m.layout.guestRamEnd) return true;
  return r.m.layout.vmsa1.some((v) => a.gpa >= v && end <= v + 4096n);
}

const V1_SEEDS: Uint8Array[] = [
  { case: "readPhys", value: { ranges: [{ addr: 0x1000n, len: 64 }, { addr: 0x3ff_f000n, len: 8192 }] } },
  { case: "writePhys", value: { writes: [{ addr: 0x2000n, data: Uint8Array.of(1, 2, 3) }] } },
  { case: "readVirt", value: { dtb: 0x100000n, ranges: [{ addr: 0xffff_8000_0000_0000n, len: 16 }], pagingLevels: 4 } },
  { case: "translate", value: { dtb: 0x100000n, vas: [1n, 0xffffffff81000000n] } },
  { case: "getRegisters", value: { vcpus: [0, 1] } },
  { case: "setRegisters", value: { vcpu: 1, writes: [{ reg: v1.Register.RIP, value: 5n }] } },
  { case: "armTrap", value: { gpa: 0x5000n, access: 3, ripFilter: [], va: 0x1000n, dtb: 0x100000n } },
  { case: "eventResponse", value: { eventId: 1n, action: v1.EventAction.SKIP } },
  { case: "pause", value: {} },
  { case: "attest", value: { nonce: new Uint8Array(32) } },
].map((op, i) => toBinary(v1.RequestSchema, create(v1.RequestSchema, { id: BigInt(i + 1), op: op as v1.Request["op"] })));

const V0_SEEDS: Uint8Array[] = [
  { case: "rpageReq", value: { frameNum: 0x42n | (1n << 39n) } },
  { case: "wpageReq", value: { paddr: 0x43000n, writeBuffer: new Uint8Array(40) } },
  { case: "rregReq", value: { register: v0.RegisterID.CR3, vcpu: 1n } },
  { case: "wregReq", value: { register: v0.RegisterID.RIP, vcpu: 0n, value: 1n } },
  { case: "mntrPageReq", value: { frameNum: 0x55n, accessType: v0.MemAccessType.WRITE } },
  { case: "mntrResumeReq", value: { vcpu: 0n } },
  { case: "readReq", value: { address: 0x1000n, numBytes: 16n } },
  { case: "membdReq", value: {} },
].map((request) => toBinary(v0.AccessRequestSchema, create(v0.AccessRequestSchema, { request: request as v0.AccessRequest["request"] })));

/** A frame: random bytes, or a seed with byte flips, a truncation or an extension. */
const frameBody = (seeds: Uint8Array[]) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), fc.uint8Array({ maxLength: 20 })).map(([s, flips, cut, extra]) => {
      const b = s.slice();
      for (const [i, v] of flips) if (b.length > 0) b[i % b.length] = v;
      const t = b.subarray(0, b.length === 0 ? 0 : cut % (b.length + 1));
      return Uint8Array.from([...t, ...extra]);
    }),
  );

/** A byte stream: framed bodies, sometimes with a corrupt prefix, split anywhere. */
const stream = (seeds: Uint8Array[]) =>
  fc.tuple(fc.array(fc.tuple(frameBody(seeds), fc.boolean()), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 })).map(([frames, cuts]) => {
    const bytes = Uint8Array.from(frames.flatMap(([b, good]) => (good ? [...encodeFrame(b)] : [b.length & 0xff, ...b])));
    const pts = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const p of pts) {
      parts.push(bytes.subarray(at, p));
      at = p;
    }
    parts.push(bytes.subarray(at));
    return parts;
  });

test("property (v1): any bytes give status replies or a closed session; no access outside the allowed range", () => {
  fc.assert(
    fc.property(stream(V1_SEEDS), (parts) => {
      const r = serviceRig({ attestation: { request: () => true } });
      r.m.accessLog = [];
      const c = new V1Client(r.core);
      let steps = 0;
      for (const p of parts) {
        c.session.accept(p);
        while (c.session.step()) assert.ok(++steps < 10_000, "a hang");
      }
      const d = new FrameDecoder({ maxFrameBytes: 1 << 26 });
      for (const f of c.io.frames) d.push(f);
      for (const f of d.drain()) {
        const res = decodeMessage(v1.ResponseSchema, f);
        assert.ok(res.status >= 0 && res.status <= 10);
      }
      for (const a of r.m.accessLog) assert.ok(allowed(r, a), `access at 0x${a.gpa.toString(16)}+${a.len}`);
    }),
    { numRuns: RUNS },
  );
});

test("property (v0): any bytes give REQUEST_FAILED/SUCCESS replies within 8192 bytes or a closed session; no access outside the allowed range", () => {
  fc.assert(
    fc.property(stream(V0_SEEDS), (parts) => {
      const r = serviceRig();
      r.m.accessLog = [];
      const c = new V0Client(r.core);
      let steps = 0;
      for (const p of parts) {
        c.session.accept(p);
        while (c.session.step()) assert.ok(++steps < 10_000, "a hang");
      }
      for (const f of c.io.frames) {
        assert.ok(f.length <= 8192);
        const m = decodeMessage(v0.AccessReplySchema, f.subarray(f[0]! < 0x80 ? 1 : 2));
        assert.ok(m.reply.case !== undefined);
      }
      for (const a of r.m.accessLog) assert.ok(allowed(r, a), `access at 0x${a.gpa.toString(16)}+${a.len}`);
    }),
    { numRuns: RUNS },
  );
});
