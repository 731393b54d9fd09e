/**
 * Threat: a downgrade to the prototype's v0 protocol (no ALPN, no client authentication,
 * no session binding) when the owner's measured configuration does not allow it — by the
 * host or anyone who reaches the agent's port, even presenting the owner's certificate —
 * or to a protocol the agent does not speak (another ALPN).
 * Expected: v0 is served only when the measured configuration allows it: a client without
 * ALPN is closed after the handshake without a byte of application data
 * (`refused-v0-disabled`), its requests never run; another ALPN fails the TLS handshake
 * (no_application_protocol) — the owner's client reports that as SessionError TLS_FAILED.
 * The agent keeps serving its owner over v1.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { v0 } from "../../src/shared/protocol/index.js";
import { generateKeyPairSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer } from "node:tls";
import { ownerIdentity } from "../../src/client/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { rawTls, v0Frame } from "./helpers/raw-tls.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("downgrade-v0"); // legacyV0: false, the default
});
after(() => sw?.stop());

const notes = (): Readonly<Record<string, number>> => sw.world.agent!.introspect.notes;
const requests = (): bigint => sw.world.agent!.introspect.core!.counters.requests;
const v0Read = v0Frame(toBinary(v0.AccessRequestSchema, create(v0.AccessRequestSchema, { request: { case: "rpageReq", value: { frameNum: 0x100n } } })));

test("a v0 client (no ALPN) is closed without a reply; its request never runs", async () => {
  const [refused, req] = [notes()["refused-v0-disabled"] ?? 0, requests()];
  const r = await rawTls(sw.world.endpoint.port, { send: v0Read });
  assert.equal(r.handshake, true);
  assert.equal(r.received, 0, "not a byte of application data");
  assert.equal(notes()["refused-v0-disabled"], refused + 1);
  assert.equal(requests(), req);
});

test("v0 with the owner's own certificate is refused just the same", async () => {
  const refused = notes()["refused-v0-disabled"] ?? 0;
  const key = sw.owner.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  const r = await rawTls(sw.world.endpoint.port, { keyPem: key, certPem: sw.owner.certificatePem, send: v0Read });
  assert.equal(r.received, 0);
  assert.equal(notes()["refused-v0-disabled"], refused + 1);
});

test("another ALPN fails the handshake (no_application_protocol); the owner's client says TLS_FAILED", async () => {
  const r = await rawTls(sw.world.endpoint.port, { alpn: ["seven/0"], send: v0Read });
  assert.equal(r.handshake, false);
  assert.match(r.error ?? "", /no application protocol/);
});

test("the owner's client cannot be downgraded: a server that does not select seven/1 is refused with TLS_FAILED", async () => {
  // The host terminates TLS itself and answers like the prototype's agent (no ALPN).
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const id = ownerIdentity(privateKey, "v0 agent");
  const server = createServer({ key: privateKey.export({ format: "pem", type: "pkcs8" }), cert: id.certificatePem, minVersion: "TLSv1.3" }, (s) => s.on("error", () => undefined));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const e = await rejectsWith(sw.connect({ endpoint: `127.0.0.1:${port}` }), "TLS_FAILED");
    assert.match(e.message, /does not speak seven\/1/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("the agent keeps serving its owner over v1", async () => {
  await sw.expectServes();
});
