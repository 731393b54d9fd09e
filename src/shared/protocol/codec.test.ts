import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { v0, v1 } from "./index.js";
import { assertRequiredFields, decodeMessage, encodeMessageFrame, MessageDecodeError, missingRequiredFields } from "./codec.js";
import { decodeVarint } from "./framing.js";

test("v0: a reply with status 0 encodes the zero (required fields are on the wire)", () => {
  const r = create(v0.AccessReplySchema, { reply: { case: "pauseReply", value: create(v0.PauseReplySchema, { status: v0.RequestStatus.REQUEST_SUCCESS }) } });
  // field 3 (pause_reply), length 2, field 1 varint 0.
  assert.deepEqual([...toBinary(v0.AccessReplySchema, r)], [0x1a, 0x02, 0x08, 0x00]);
  assert.deepEqual(missingRequiredFields(v0.AccessReplySchema, r), []);
});

test("v0: missing required fields are found through the oneof", () => {
  // rpage_req (field 8) present but empty: the encoder refuses to write that, so bytes by hand.
  const bytes = Uint8Array.of(0x42, 0x00);
  const m = decodeMessage(v0.AccessRequestSchema, bytes);
  assert.deepEqual(missingRequiredFields(v0.AccessRequestSchema, m), ["msg_proto.AccessRequest.rpage_req.frame_num"]);
  assert.throws(() => assertRequiredFields(v0.AccessRequestSchema, m), (e: unknown) => e instanceof MessageDecodeError && e.code === "MISSING_REQUIRED");
});

test("decodeMessage: malformed bytes are a typed BAD_MESSAGE", () => {
  for (const b of [Uint8Array.of(0x0a, 0x05, 1), Uint8Array.of(0xff), Uint8Array.of(0x07)]) {
    assert.throws(() => decodeMessage(v1.RequestSchema, b), (e: unknown) => e instanceof MessageDecodeError && e.code === "BAD_MESSAGE");
  }
});

test("encodeMessageFrame: prefix equals the message length", () => {
  const f = encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 7n, op: { case: "heartbeat", value: create(v1.HeartbeatRequestSchema) } }));
  const p = decodeVarint(f)!;
  assert.equal(Number(p.value), f.length - p.length);
});
