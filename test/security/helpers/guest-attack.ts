/**
 * Support for the guest-attack tests: the real world with an attested owner session open
 * while a VMPL1 rootkit scenario runs, and the checks that the agent and that session come
 * out unharmed.
 */
import assert from "node:assert/strict";
import type { AgentV1Driver, TrapEvent } from "../../../src/client/index.js";
import type { v1 } from "../../../src/shared/protocol/index.js";
import type { Outcome } from "../../../src/guest/index.js";
import { PAGE, startSecWorld, type SecWorld } from "./world.js";

/** #NPF EXITINFO1 bits (SNP.md §4.5). */
export const NPF_BIT = { P: 1n << 0n, W: 1n << 1n, RMP: 1n << 31n, FINAL: 1n << 32n, ENC: 1n << 34n, VMPL: 1n << 36n } as const;

export interface AttackRig {
  readonly sw: SecWorld;
  readonly owner: AgentV1Driver;
  /** Every event pushed to the owner's session. */
  readonly events: TrapEvent[];
  close(): Promise<void>;
}

export async function startAttackRig(name: string, o: Parameters<typeof startSecWorld>[1] = {}): Promise<AttackRig> {
  const sw = await startSecWorld(name, o);
  const owner = await sw.connect();
  const events: TrapEvent[] = [];
  owner.onAgentEvent((e) => void (e.kind !== "mapping-changed" && events.push(e)));
  return {
    sw,
    owner,
    events,
    close: async () => {
      await owner.close();
      await sw.stop();
    },
  };
}

/** The owner's session answers with the plaintext, the agent runs, nothing is held, no event was made up. */
export async function assertUnharmed(rig: AttackRig): Promise<v1.Heartbeat> {
  const { sw, owner } = rig;
  const hb = await owner.heartbeat();
  assert.deepEqual(hb.stoppedVcpus, [], "no vCPU held");
  assert.equal(hb.events, 0n, "no event was made up");
  assert.deepEqual(rig.events, []);
  const [text] = await owner.readPhys([{ gpa: sw.textPa, len: PAGE }]);
  assert.deepEqual(text, sw.plaintext(sw.textPa, PAGE), "the session still reads the plaintext");
  assert.equal(sw.world.agent!.introspect.phase, "running");
  assert.equal(sw.world.agent!.introspect.sessions.length, 1, "the owner's session is still open");
  return hb;
}

/** The last outcome: the attacking instruction gave up after its retries, each a VMPL-permission #NPF. */
export function gaveUpOnNpf(o: Outcome | undefined): { info: bigint; gpa: bigint } {
  assert.ok(o !== undefined);
  assert.equal(o.result, "gave-up", JSON.stringify(o));
  assert.equal(o.fault?.kind, "npf");
  return { info: BigInt(o.fault.errorCode), gpa: BigInt(o.fault.gpa!) };
}
