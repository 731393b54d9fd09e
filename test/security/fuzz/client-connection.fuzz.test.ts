/**
 * Threat: whoever answers the owner's client — a hostile host impersonating the agent, or a
 * broken agent — sends arbitrary bytes: garbage, frames of garbage, or well-framed
 * Responses with random ids, statuses and bodies, split anywhere.
 * Expected: the client's session layer (V1Connection: the frame decoder, the Response
 * decoder, id matching) never crashes and never hangs: an outstanding request settles —
 * with a Response whose id is its own, or with SessionError PROTOCOL_ERROR / SESSION_CLOSED
 * — and nothing else is thrown. Budget: SEVEN_FUZZ_RUNS (CI default 200).
 */
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import fc from "fast-check";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { encodeFrame, v1 } from "../../../src/shared/protocol/index.js";
import { SessionError, V1Connection } from "../../../src/client/index.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

/** A stream whose writes go nowhere and whose reads are what the test pushes. */
function hostilePeer(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

const frameArb = fc.oneof(
  // raw garbage
  fc.uint8Array({ maxLength: 64 }),
  // a frame of garbage
  fc.uint8Array({ maxLength: 64 }).map((b) => encodeFrame(b)),
  // a well-formed Response: random id (often 1, the request in flight), status, body
  fc
    .record({
      id: fc.oneof(fc.constant(1n), fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      status: fc.nat(20),
      body: fc.constantFrom("none", "heartbeat", "machineInfo", "read", "event", "done"),
      detail: fc.string({ maxLength: 8 }),
    })
    .map((r) => {
      type Body = NonNullable<MessageInitShape<typeof v1.ResponseSchema>["body"]>;
      const bodies: Record<string, Body> = {
        heartbeat: { case: "heartbeat", value: { requests: 1n } },
        machineInfo: { case: "machineInfo", value: { vcpus: 2 } },
        read: { case: "read", value: { chunks: [{ data: new Uint8Array(3) }] } },
        event: { case: "event", value: { eventId: 1n } },
        done: { case: "done", value: {} },
        none: { case: undefined },
      };
      const body = bodies[r.body] ?? { case: undefined };
      return encodeFrame(toBinary(v1.ResponseSchema, create(v1.ResponseSchema, { id: r.id, status: r.status, detail: r.detail, body })));
    }),
);

/** The bytes, concatenated and re-split at random points. */
const streamArb = fc.tuple(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(200), { maxLength: 6 })).map(([frames, cuts]) => {
  const all = Uint8Array.from(frames.flatMap((f) => [...f]));
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(all.subarray(last, p));
    last = p;
  }
  parts.push(all.subarray(last));
  return parts;
});

test("any bytes from the peer: the outstanding request resolves with its own id or fails with PROTOCOL_ERROR/SESSION_CLOSED", async () => {
  await fc.assert(
    fc.asyncProperty(streamArb, fc.boolean(), async (parts, end) => {
      const peer = hostilePeer();
      const pushes: v1.Response[] = [];
      const c = new V1Connection(peer, { peer: "fuzz", timeoutMs: 60_000, heartbeatMs: 0, onPush: (r) => void pushes.push(r) });
      const outcome = c.request({ case: "heartbeat", value: {} }).then(
        (r) => ({ r }),
        (e: unknown) => ({ e }),
      );
      for (const p of parts) peer.push(Buffer.from(p));
      // The peer then closes (or the owner gives up); either way the request must settle.
      if (end) peer.push(null);
      else void c.close();
      const o = await outcome;
      if ("r" in o) assert.equal(o.r.id, 1n, "a resolved request got its own reply");
      else {
        assert.ok(o.e instanceof SessionError, `only SessionErrors (got ${String(o.e)})`);
        assert.ok(["PROTOCOL_ERROR", "SESSION_CLOSED"].includes(o.e.code), o.e.code);
      }
      assert.ok(pushes.every((p) => p.id === 0n), "only id-0 messages are pushes");
      peer.destroy();
      await c.close();
    }),
    { numRuns: RUNS },
  );
});
