import { test } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Gpa } from "../shared/base/index.js";
import { fixedClock } from "../shared/base/index.js";
import { computeLayout } from "../shared/spec/index.js";
import { decodeMessage, encodeMessageFrame, FrameDecoder, v1 } from "../shared/protocol/index.js";
import { createMachine } from "../platform/index.js";
import { createPlainBackend } from "./plain-backend.js";
import { servePlainStream } from "./plain-serve.js";
import { initialVmsaPage } from "./vmsa-init.js";

type Op = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;

/** A non-SEV machine that ran its guest once (so the running contexts are known). */
function baseline() {
  const memoryBytes = 64n << 20n;
  const m = createMachine({ memoryBytes, vcpus: 2, seed: "plain", clock: fixedClock("2026-01-01T00:00:00Z"), sev: false });
  const layout = computeLayout({ memoryBytes, vcpus: 2 });
  const hv = m.hypervisor;
  for (let v = 0; v < 2; v++) hv.write(layout.vmsa1[v]!, initialVmsaPage(1, v, layout));
  m.installProgram(1, { step: (cpu) => (cpu.setReg("rip", cpu.getReg("rip") + 1n), { kind: "hlt" }) });
  for (let v = 0; v < 2; v++) hv.vmrun(v, layout.vmsa1[v]!, 10);
  hv.write(0x1000n as Gpa, Uint8Array.of(9, 8, 7));
  return { m, layout, access: hv.plainAccess() };
}

/** A client end and a server end joined back to back. */
function pipe(): [Duplex, Duplex] {
  let a: Duplex | undefined;
  let b: Duplex | undefined;
  a = new Duplex({ read() {}, write: (c, _e, cb) => (b!.push(c), cb()), final: (cb) => (b!.push(null), cb()) });
  b = new Duplex({ read() {}, write: (c, _e, cb) => (a!.push(c), cb()), final: (cb) => (a!.push(null), cb()) });
  return [a, b];
}

async function call(client: Duplex, dec: FrameDecoder, op: Op, id: bigint): Promise<v1.Response> {
  client.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op })));
  for (;;) {
    const f = dec.next();
    if (f !== undefined) return decodeMessage(v1.ResponseSchema, f);
    await new Promise((r) => setImmediate(r));
  }
}

test("the same service over plainAccess: memory and registers in plaintext; no attestation, no traps, no pause without run control", async () => {
  const { layout, access } = baseline();
  const [client, server] = pipe();
  const dec = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  client.on("data", (d: Buffer) => dec.push(new Uint8Array(d)));
  const srv = servePlainStream(server, createPlainBackend(access, { layout }), { heartbeatIntervalNs: 0n });
  const S = v1.Status;
  const mi = await call(client, dec, { case: "machineInfo", value: {} }, 1n);
  assert.equal((mi.body.value as v1.MachineInfo).guestRamEnd, layout.guestRamEnd);
  const rd = await call(client, dec, { case: "readPhys", value: { ranges: [{ addr: 0x1000n, len: 3 }, { addr: layout.agentBase, len: 1 }] } }, 2n);
  const ch = (rd.body.value as v1.ReadResponse).chunks;
  assert.deepEqual([...ch[0]!.data], [9, 8, 7]);
  assert.equal(ch[1]!.status, S.OUT_OF_RANGE);
  const regs = (await call(client, dec, { case: "getRegisters", value: { vcpus: [1] } }, 3n)).body.value as v1.RegistersResponse;
  assert.equal(regs.sets[0]!.rip, 0xfff1n);
  assert.equal((await call(client, dec, { case: "attest", value: { nonce: new Uint8Array(32) } }, 4n)).status, S.UNIMPLEMENTED);
  assert.equal((await call(client, dec, { case: "armTrap", value: { gpa: 0x5000n, access: 2 } }, 5n)).status, S.UNIMPLEMENTED);
  assert.equal((await call(client, dec, { case: "pause", value: {} }, 6n)).status, S.UNIMPLEMENTED);
  srv.close();
  await srv.done;
});

test("with the host's run control, pause and resume work over the baseline too", async () => {
  const { layout, access } = baseline();
  const runnable = [true, true];
  const backend = createPlainBackend(access, { layout, control: { setRunnable: (v, r) => (runnable[v] = r) } });
  const [client, server] = pipe();
  const dec = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  client.on("data", (d: Buffer) => dec.push(new Uint8Array(d)));
  const srv = servePlainStream(server, backend, { heartbeatIntervalNs: 0n });
  const p = await call(client, dec, { case: "pause", value: {} }, 1n);
  assert.deepEqual((p.body.value as v1.PauseResponse).stopped, [0, 1]);
  assert.deepEqual(runnable, [false, false]);
  await call(client, dec, { case: "resume", value: {} }, 2n);
  assert.deepEqual(runnable, [true, true]);
  client.end();
  await srv.done;
});
