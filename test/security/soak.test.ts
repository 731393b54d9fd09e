/**
 * Threat: resource exhaustion by repetition — many owner sessions opened and closed, many
 * requests, traps armed, hit and cleared — leaking memory, sockets, connections, traps or
 * held vCPUs in the agent, the host's relay or the client, until the service degrades.
 * Expected: after a warm-up, the process's heap, its external and array-buffer memory (less
 * the guest pages the guest itself allocated meanwhile), its active handles, the host's
 * relayed connections and the agent's connections, sessions and armed traps all return to
 * their baseline: flat, within a bound far below what the rounds allocated in total.
 */
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { after, before, test } from "node:test";
import { defaultProfile } from "../../src/app/world/world.js";
import { PAGE, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

const WARMUP = 3;
const ROUNDS = 24;
const REQUESTS = 60;
const MIB = 1 << 20;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let sw: SecWorld;
let scTable: bigint;
before(async () => {
  sw = await startSecWorld("soak");
  const gt = sw.world.guest.groundTruth();
  const d = await sw.connect();
  const [t] = await d.translate(BigInt(gt.kernel.initTopPgt), [defaultProfile().requireSymbol("sys_call_table") + BigInt(gt.kernel.virtualSlide)]);
  assert.ok(!(t instanceof Error));
  scTable = t!.pa;
  await d.close();
});
after(() => sw?.stop());

/** One round: a session, REQUESTS requests of several kinds (some pipelined), two traps armed, hit, cleared. */
async function round(i: number): Promise<number> {
  const d = await sw.connect();
  let bytes = 0;
  try {
    for (let r = 0; r < REQUESTS; r += 6) {
      const [a, b] = await Promise.all([
        d.readPhys([{ gpa: sw.textPa + BigInt((r % 8) * PAGE), len: PAGE }]),
        d.readPhys([{ gpa: 0x100000n, len: 64 * 1024 }]),
      ]);
      bytes += (a[0] as Uint8Array).length + (b[0] as Uint8Array).length;
      await d.getRegisterSets();
      await d.heartbeat();
      assert.deepEqual(await d.writePhys([{ gpa: 0x300000n, data: Uint8Array.of(i & 0xff, r & 0xff) }]), [undefined]);
      await d.readPhys([{ gpa: 0x300000n, len: 2 }]);
    }
    let hits = 0;
    const busy = await d.armTrap({ gpa: scTable, access: "r" }, () => {
      hits++;
      return "continue";
    });
    const idle = await d.armTrap({ gpa: sw.textPa, access: "w" });
    await waitFor(() => hits >= 2, 30_000, "trap hits");
    await busy.dispose();
    await idle.dispose();
  } finally {
    await d.close();
  }
  return bytes;
}

interface Level {
  readonly heap: number;
  readonly external: number;
  readonly guestPages: number;
  readonly handles: Record<string, number>;
}

async function settle(): Promise<Level> {
  const agent = sw.world.agent!.introspect;
  await waitFor(() => sw.world.host.nic!.connections === 0 && agent.connections === 0 && agent.sessions.length === 0, 20_000, "connections to close");
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  const m = process.memoryUsage();
  const handles: Record<string, number> = {};
  for (const h of (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles()) handles[h.constructor.name] = (handles[h.constructor.name] ?? 0) + 1;
  return { heap: m.heapUsed, external: m.external + m.arrayBuffers, guestPages: sw.world.machine.stats().allocatedPages, handles };
}

test(`${ROUNDS} sessions × ${REQUESTS} requests and 2 traps each: memory, handles, connections and traps stay flat`, async (t) => {
  for (let i = 0; i < WARMUP; i++) await round(i);
  const base = await settle();
  let moved = 0;
  for (let i = 0; i < ROUNDS; i++) moved += await round(WARMUP + i);
  const end = await settle();

  const heapGrowth = end.heap - base.heap;
  // Guest pages the guest allocated meanwhile are the guest's memory, not a leak.
  const externalGrowth = end.external - base.external - (end.guestPages - base.guestPages) * PAGE;
  t.diagnostic(
    `soak: ${ROUNDS} sessions, ${ROUNDS * (REQUESTS + 4)} requests, ${(moved / MIB).toFixed(0)} MiB read, ${ROUNDS * 2} traps; ` +
      `heap ${(heapGrowth / MIB).toFixed(2)} MiB, external+arrayBuffers ${(externalGrowth / MIB).toFixed(2)} MiB (guest pages +${end.guestPages - base.guestPages}), ` +
      `handles ${JSON.stringify(base.handles)} → ${JSON.stringify(end.handles)}`,
  );
  assert.deepEqual(end.handles, base.handles, "active handles (sockets, servers) back to the baseline");
  assert.ok(heapGrowth < 8 * MIB, `heap grew ${(heapGrowth / MIB).toFixed(2)} MiB over ${ROUNDS} rounds`);
  assert.ok(externalGrowth < 8 * MIB, `external memory grew ${(externalGrowth / MIB).toFixed(2)} MiB over ${ROUNDS} rounds (${(moved / MIB).toFixed(0)} MiB moved)`);
  const hb = await (async () => {
    const d = await sw.connect();
    try {
      return await d.heartbeat();
    } finally {
      await d.close();
    }
  })();
  assert.equal(hb.trapsArmed, 0, "no trap left armed");
  assert.deepEqual(hb.stoppedVcpus, [], "no vCPU left held");
  assert.equal(hb.unmatchedFaults, 0n);
});
