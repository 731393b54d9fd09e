/**
 * Issue 3, "done when": reports and certificates made by the platform's simulated secure
 * processor verify with the client's verifier when, and only when, the simulated ARK is
 * passed as a trust root. Uses the platform's simulated KDS and report signer directly
 * (switch to the machine API once it exposes extended guest requests).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SimulatedKds } from "../../src/platform/asp/simulated-kds.js";
import { signReport } from "../../src/platform/asp/report.js";
import { SeededRng, fixedClock } from "../../src/shared/base/index.js";
import { encodeTcbVersion } from "../../src/shared/spec/index.js";
import { checkAttestation, failedCodes } from "../../src/client/index.js";
import { defaultChipId, defaultReport, defaultTcb } from "../../src/client/attest/testing/index.js";

test("simulated ASP evidence verifies only with the simulated ARK as an explicit trust root", () => {
  const kds = new SimulatedKds("milan", new SeededRng("attest-integration"), Date.UTC(2025, 0, 1));
  const tcb = defaultTcb("milan");
  const chipId = defaultChipId("milan");
  const reported = encodeTcbVersion(tcb, "milan");
  const report = signReport(defaultReport("milan", "vcek", tcb, chipId), kds.vcek(reported).secret);
  const input = {
    report,
    keyKind: "vcek" as const,
    certificate: kds.vcekDer(reported, chipId),
    chain: [kds.askDer, kds.arkDer],
    clock: fixedClock("2025-06-01T00:00:00Z"),
  };
  assert.deepEqual(failedCodes(checkAttestation(input, {}).checks), ["ARK_NOT_TRUSTED"]);
  const trusted = checkAttestation({ ...input, trustRoots: [kds.arkDer] }, {});
  assert.deepEqual(failedCodes(trusted.checks), []);
  assert.equal(trusted.arkSource, "explicit");
  // Without the chain file the real AMD ASK is used, which never signed a simulated VCEK.
  assert.deepEqual(failedCodes(checkAttestation({ ...input, chain: undefined, trustRoots: [kds.arkDer] }, {}).checks), ["VCEK_NOT_SIGNED_BY_ASK"]);
  // One bit of the signed report changed.
  const bad = report.slice();
  bad[0x90]! ^= 1;
  assert.deepEqual(failedCodes(checkAttestation({ ...input, report: bad, trustRoots: [kds.arkDer] }, {}).checks), ["SIGNATURE_INVALID"]);
});
