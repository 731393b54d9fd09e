import { test } from "node:test";
import assert from "node:assert/strict";
import { ALPN_V1, v1 } from "../../shared/protocol/index.js";
import { SEVEN_RUN_REASON } from "../../shared/spec/index.js";
import { createAgent } from "./agent.js";
import { RUN_REPLY_BYTES } from "./nic-service.js";
import { createTlsIdentity } from "./tls-identity.js";
import { FakeHost, launchedMachine } from "../testing/fake-host.js";
import { TlsTestClient } from "../testing/tls-client.js";

const owner = createTlsIdentity(new Uint8Array(48).fill(5), new Uint8Array(16).fill(6));
const MiB = 1 << 20;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A booted agent with one owner session that has answered MachineInfo. */
async function session() {
  const m = launchedMachine({ config: { ownerKey: owner.spki } });
  const agent = createAgent({ entropy: (n) => new Uint8Array(n).fill(9), heartbeatIntervalNs: 0n });
  const host = new FakeHost(m, agent.program);
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = TlsTestClient.open(host, owner, [ALPN_V1]);
  assert.equal((await c.call(host, { case: "machineInfo", value: {} })).status, v1.Status.OK);
  return { m, host, c };
}

/** Lets both TLS ends finish what they started (writes complete on the event loop). */
async function settleTls(): Promise<void> {
  for (let i = 0; i < 8; i++) await turn();
}

test("a run answers reads up to RUN_REPLY_BYTES, and their ciphertext is in the TX ring when it yields", async () => {
  const { m, host, c } = await session();
  // Distinct bytes per MiB, so that each reply is checked against its own range.
  for (let k = 0; k < 5; k++) m.poke(BigInt((k + 1) * MiB), new Uint8Array(MiB).fill(k + 1));
  const ids = Array.from({ length: 5 }, (_, k) => c.send({ case: "readPhys", value: { ranges: [{ addr: BigInt((k + 1) * MiB), len: MiB }] } }));
  await settleTls();
  host.pumpRx();
  const served = (): v1.Response[] => c.replies.filter((r) => ids.includes(r.id));
  // One VMRUN: everything it answered is encrypted and in the ring by the time it yields
  // (the host's pumpTx right after it is all the client gets), and it stopped taking
  // requests once its replies reached the budget.
  const perRun = Math.ceil(RUN_REPLY_BYTES / MiB);
  const counts: number[] = [];
  for (let run = 0; run < 5 && served().length < ids.length; run++) {
    const before = served().length;
    host.run(0, SEVEN_RUN_REASON.NIC);
    host.pumpTx();
    await settleTls();
    counts.push(served().length - before);
  }
  assert.deepEqual(counts, [perRun, perRun, ids.length - 2 * perRun]);
  served().forEach((r, i) => {
    assert.equal(r.id, ids[i], "in order");
    assert.equal(r.status, v1.Status.OK);
    const data = (r.body.value as v1.ReadResponse).chunks[0]!.data;
    assert.equal(data.length, MiB);
    assert.ok(data.every((b) => b === i + 1));
  });
});

test("small replies are not held back: a run answers every queued small request, all in the ring when it yields", async () => {
  const { host, c } = await session();
  const ids = Array.from({ length: 20 }, () => c.send({ case: "heartbeat", value: {} }));
  await settleTls();
  host.pumpRx();
  host.run(0, SEVEN_RUN_REASON.NIC);
  host.pumpTx();
  await settleTls();
  assert.deepEqual(
    c.replies.filter((r) => ids.includes(r.id)).map((r) => r.id),
    ids,
  );
});
