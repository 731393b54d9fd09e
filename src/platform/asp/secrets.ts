/**
 * The secrets page the firmware writes at SNP_LAUNCH_UPDATE(SECRETS) — SNP.md §6.4, layout
 * in shared/spec secrets-page.ts. The firmware fills VERSION, IMIEN, FMS, GOSVW and
 * VMPCK0–3; the OS area, the VMSA tweak bitmap, the SVSM fields and TSC_FACTOR (SecureTSC
 * only) are left zero.
 *
 * VERSION 3 is what ABI 1.55 firmware writes [unverified: from memory of the ABI spec].
 */
import { SECRETS_PAGE, VMPCK_LEN } from "../../shared/spec/index.js";

export const SECRETS_PAGE_VERSION = 3;

export interface SecretsInput {
  /** CPUID Fn0000_0001_EAX of the part. */
  readonly fms: number;
  readonly gosvw: Uint8Array;
  readonly vmpck: readonly Uint8Array[];
  readonly imiEnabled?: boolean;
}

export function buildSecretsPage(s: SecretsInput): Uint8Array {
  const [k0, k1, k2, k3] = s.vmpck;
  if (k0 === undefined || k1 === undefined || k2 === undefined || k3 === undefined || s.vmpck.length !== 4) {
    throw new RangeError("need four VMPCKs");
  }
  if (s.vmpck.some((k) => k.length !== VMPCK_LEN)) throw new RangeError(`VMPCKs are ${VMPCK_LEN} bytes`);
  return SECRETS_PAGE.serialize({
    version: SECRETS_PAGE_VERSION,
    imien: s.imiEnabled === true ? 1 : 0,
    fms: s.fms >>> 0,
    gosvw: s.gosvw,
    vmpck0: k0,
    vmpck1: k1,
    vmpck2: k2,
    vmpck3: k3,
  });
}
