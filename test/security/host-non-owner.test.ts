/**
 * Threat: someone who is not the owner — the host itself, or anyone it lets reach the
 * agent's port — opens a v1 session: with their own key, or with no client certificate.
 * Expected: the agent admits a v1 session only for the TLS client certificate whose key
 * equals the owner key in its measured configuration: the connection is closed before
 * anything is served (`refused-not-owner`, no request executed, not one application byte
 * sent); the client reports SessionError SESSION_CLOSED naming the likely cause. The agent
 * keeps serving its owner.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ALPN_V1, encodeFrame, v1 } from "../../src/shared/protocol/index.js";
import { ownerIdentity } from "../../src/client/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { rawTls } from "./helpers/raw-tls.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("non-owner");
});
after(() => sw?.stop());

const notes = (): Readonly<Record<string, number>> => sw.world.agent!.introspect.notes;
const requests = (): bigint => sw.world.agent!.introspect.core!.counters.requests;

test("another key: the session is closed before attesting (SESSION_CLOSED); nothing executed", async () => {
  const intruder = ownerIdentity(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey);
  const [refused, req] = [notes()["refused-not-owner"] ?? 0, requests()];
  const e = await rejectsWith(sw.connect({ owner: intruder }), "SESSION_CLOSED");
  assert.match(e.message, /closed the session before attesting \(is the owner key the one in the agent's measured configuration\?\)/);
  assert.equal(notes()["refused-not-owner"], refused + 1);
  assert.equal(requests(), req, "not one request executed");
});

test("no client certificate: closed without a byte of application data; nothing executed", async () => {
  const [refused, req] = [notes()["refused-not-owner"] ?? 0, requests()];
  const attest = encodeFrame(toBinary(v1.RequestSchema, create(v1.RequestSchema, { id: 1n, op: { case: "attest", value: { nonce: new Uint8Array(32) } } })));
  const r = await rawTls(sw.world.endpoint.port, { alpn: [ALPN_V1], send: attest });
  assert.equal(r.received, 0, "nothing was served");
  assert.equal(notes()["refused-not-owner"], refused + 1);
  assert.equal(requests(), req);
});

test("the agent keeps serving its owner", async () => {
  await sw.expectServes();
});
