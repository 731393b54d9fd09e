/**
 * TLS callbacks never touch the machine: a connection whose TLS breaks, or whose session
 * receives an undecodable frame, while the agent is NOT running (the backend has no Cpu:
 * any machine access would throw) only marks the session for ending; `reap`, while the
 * agent runs, releases what it held.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { ALPN_V1, decodeMessage, encodeMessageFrame, encodeVarint, FrameDecoder, v1 } from "../../shared/protocol/index.js";
import { DEFAULT_LIMITS } from "../config.js";
import { serviceRig } from "../testing/harness.js";
import { NicConnection } from "./connection.js";
import type { ConnectionNote } from "./connection.js";
import { createTlsIdentity } from "./tls-identity.js";
import type { Op } from "../testing/tls-client.js";

const owner = createTlsIdentity(new Uint8Array(48).fill(5), new Uint8Array(16).fill(6));
const agentId = createTlsIdentity(new Uint8Array(48).fill(7), new Uint8Array(16).fill(8));

function setup() {
  const rig = serviceRig();
  const notes: ConnectionNote[] = [];
  const conn = new NicConnection(1, {
    tls: { keyPem: agentId.keyPem, certPem: agentId.certPem },
    config: { ownerKey: owner.spki, legacyV0: false, limits: DEFAULT_LIMITS, memoryBytes: rig.m.layout.memoryBytes, vcpus: 2 },
    core: rig.core,
    serverSpki: agentId.spki,
    heartbeatIntervalNs: 0n,
    note: (what) => notes.push(what),
  });
  const replies: v1.Response[] = [];
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  const wire = new Duplex({
    read() {},
    write: (chunk: Buffer, _e, cb) => {
      conn.feed(new Uint8Array(chunk));
      cb();
    },
  });
  const client = connect({ socket: wire, rejectUnauthorized: false, key: owner.keyPem, cert: owner.certPem, ALPNProtocols: [ALPN_V1] });
  client.on("error", () => undefined);
  client.on("data", (d: Buffer) => {
    decoder.push(new Uint8Array(d));
    for (const f of decoder.drain()) replies.push(decodeMessage(v1.ResponseSchema, f));
  });
  /** The agent "runs": the backend has a Cpu, the session's requests are handled, ciphertext goes out. */
  const run = (): void => {
    rig.backend.bind(rig.m.cpu(0));
    try {
      while (conn.session?.step()) {
        /* drain */
      }
      conn.reap();
      conn.flushTls(); // what the run answered goes to TLS (NicService.tick does this)
    } finally {
      rig.backend.bind(undefined);
    }
    for (let c = conn.takeTx(1 << 20); c !== undefined; c = conn.takeTx(1 << 20)) wire.push(Buffer.from(c));
  };
  const settle = async (until: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !until(); i++) {
      run();
      await new Promise((r) => setImmediate(r));
    }
  };
  const call = async (op: Op, id: bigint): Promise<v1.Response> => {
    client.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op })));
    await settle(() => replies.some((r) => r.id === id));
    return replies.find((r) => r.id === id)!;
  };
  return { ...rig, conn, notes, client, wire, call, settle, run };
}

for (const breakage of ["a broken TLS record", "an unframeable stream"] as const) {
  test(`${breakage} outside a VMPL0 run only marks the session; reap releases its pause while the agent runs`, async () => {
    const s = setup();
    s.backend.bind(undefined);
    assert.equal((await s.call({ case: "pause", value: {} }, 1n)).status, v1.Status.OK);
    assert.ok(!s.m.runnable(0) && !s.m.runnable(1));
    assert.throws(() => s.backend.cpu, /outside a VMRUN/, "no Cpu bound: machine access would throw");
    // Bytes arrive while the agent is not running (TLS processes them in the callback).
    if (breakage === "a broken TLS record") s.conn.feed(Uint8Array.from([0x17, 0x03, 0x03, 0x00, 0x20, ...new Uint8Array(32).fill(1)]));
    // A length prefix beyond the frame limit: the session's decoder fails in the data callback.
    else s.client.write(encodeVarint(64 << 20));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.ok(s.conn.needsReap, "the session is marked for ending");
    assert.equal(s.core.sessionCount, 1, "the core was not touched");
    assert.ok(!s.m.runnable(0) && !s.m.runnable(1), "the pause is still in place");
    s.run();
    assert.ok(!s.conn.needsReap);
    assert.equal(s.core.sessionCount, 0);
    assert.ok(s.m.runnable(0) && s.m.runnable(1), "released while the agent ran");
    assert.equal(s.conn.session?.closed, true);
  });
}
