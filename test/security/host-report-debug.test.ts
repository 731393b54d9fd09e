/**
 * Threat: the untrusted host launches the owner's CVM — the right agent image and the
 * owner's measured configuration — under a guest policy with DEBUG = 1, which would let it
 * decrypt guest memory with the firmware's debug commands (SNP_DBG_DECRYPT). The agent is
 * genuine and attests honestly; the report shows the policy.
 * Expected: the owner's client refuses the session with SessionError ATTESTATION_REJECTED,
 * codes exactly [DEBUG_ALLOWED] (the measurement and the session binding are right: only
 * the policy is wrong); the owner sends nothing to that agent but the AttestRequest.
 *
 * createWorld launches with the default policy, so this test wires the same pieces itself
 * (the composition root's parts, as the hostile host would) with the DEBUG bit set.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { SeededRng, systemClock } from "../../src/shared/base/index.js";
import { GUEST_POLICY_DEFAULT, computeLayout } from "../../src/shared/spec/index.js";
import { createMachine } from "../../src/platform/index.js";
import { createHost, launchCvm, type Host } from "../../src/host/index.js";
import { createGuest } from "../../src/guest/index.js";
import { createAgent, type Agent } from "../../src/agent/index.js";
import { defaultProfile } from "../../src/app/world/world.js";
import { launchInputsFor } from "../../src/app/world/launch-inputs.js";
import { AgentV1Driver, ownerIdentity, type OwnerIdentity } from "../../src/client/index.js";
import { rejectsWith, waitFor } from "./helpers/world.js";

const DEBUG = 1n << 19n; // GUEST_POLICY.DEBUG (SNP.md §1.2)
const memoryBytes = 128n << 20n;
const vcpus = 2;
const seed = "security/report-debug";

let host: Host;
let agent: Agent;
let owner: OwnerIdentity;
let measurement: Uint8Array;
let arkPem: string;
let endpoint: string;

before(async () => {
  owner = ownerIdentity(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey);
  const layout = computeLayout({ memoryBytes, vcpus });
  const guest = createGuest({ seed, layout, profile: defaultProfile(), processes: 64 });
  const inputs = launchInputsFor({ memoryBytes, vcpus, ownerKey: owner.publicKeyDer });
  const machine = createMachine({ memoryBytes, vcpus, seed, clock: systemClock });
  agent = createAgent({ entropy: new SeededRng(seed).fork("agent") });
  machine.installProgram(0, agent.program);
  machine.installProgram(1, guest);
  host = createHost({ hypervisor: machine.hypervisor, layout, clock: systemClock, seed, agent: true });
  const ep = await host.listen("127.0.0.1", 0);
  endpoint = `${ep.host}:${ep.port}`;
  measurement = launchCvm(machine.hypervisor, inputs, { policy: GUEST_POLICY_DEFAULT | DEBUG }).measurement;
  arkPem = machine.hypervisor.asp.certificates().arkPem;
  host.start();
  await waitFor(() => agent.introspect.phase === "running" && guest.booted, 120_000, "the CVM to boot");
});
after(() => host?.stop());

test("a genuine report under a DEBUG policy is refused: ATTESTATION_REJECTED [DEBUG_ALLOWED]", async () => {
  const e = await rejectsWith(AgentV1Driver.connectAgent({ endpoint, owner, measurement, trustRoots: [arkPem] }), "ATTESTATION_REJECTED", ["DEBUG_ALLOWED"]);
  assert.match(e.message, /DEBUG_ALLOWED/);
  assert.equal(agent.introspect.attestation.completed, 1, "the agent attested honestly");
  assert.equal(agent.introspect.core!.counters.requests, 1n, "the owner sent the agent nothing but the AttestRequest");
});
