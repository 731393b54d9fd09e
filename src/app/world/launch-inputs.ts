/**
 * The launch inputs of a 00SEVen CVM — the agent image, its measured configuration (owner
 * key, v0 allowed, limits, machine shape) and the initial VMSAs — from the same few
 * options `seven host` and `seven measure` take. Both go through here and through the
 * host's `expectedMeasurement`, so they cannot disagree.
 */
import { toHex } from "../../shared/base/index.js";
import { DEFAULT_LIMITS, buildAgentImage, encodeAgentConfig, initialVmsaPage } from "../../agent/index.js";
import { expectedMeasurement } from "../../host/index.js";
import type { LaunchInputs } from "../../host/index.js";

export interface MeasuredShape {
  readonly memoryBytes: bigint;
  readonly vcpus: number;
  /** The owner's public key (SPKI DER); absent: no v1 session can open. */
  readonly ownerKey?: Uint8Array;
  /** "v0 allowed" in the agent's measured configuration. */
  readonly legacyV0?: boolean;
}

export function launchInputsFor(s: MeasuredShape): LaunchInputs {
  const agentConfig = encodeAgentConfig({
    ownerKey: s.ownerKey,
    legacyV0: s.legacyV0 ?? false,
    limits: DEFAULT_LIMITS,
    memoryBytes: s.memoryBytes,
    vcpus: s.vcpus,
  });
  return { memoryBytes: s.memoryBytes, vcpus: s.vcpus, agentImage: buildAgentImage(), agentConfig, vmsaPage: initialVmsaPage };
}

/** The expected launch measurement (hex) of a CVM of this shape. */
export function measureHex(s: MeasuredShape): string {
  return toHex(expectedMeasurement(launchInputsFor(s)));
}
