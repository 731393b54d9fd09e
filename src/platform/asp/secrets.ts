/**
 * The secrets page the firmware writes at SNP_LAUNCH_UPDATE(SECRETS) — SNP.md §6.4 (Linux
 * `struct snp_secrets_page`). The firmware fills VERSION, IMIEN, FMS, GOSVW and VMPCK0–3;
 * the OS area, the VMSA tweak bitmap, the SVSM fields and TSC_FACTOR (SecureTSC only) are
 * left zero.
 *
 * VERSION 3 is what ABI 1.55 firmware writes [unverified: from memory of the ABI spec].
 */
import { PAGE_SIZE } from "../../shared/base/index.js";

export const SECRETS_PAGE_VERSION = 3;
export const VMPCK_SIZE = 32;
export const GOSVW_SIZE = 16;

/** Offsets in the secrets page (SNP.md §6.4). */
export const SECRETS_OFFSET = {
  VERSION: 0x00,
  IMIEN: 0x04,
  FMS: 0x08,
  GOSVW: 0x10,
  VMPCK: [0x20, 0x40, 0x60, 0x80],
  OS_AREA: 0xa0,
  VMSA_TWEAK_BITMAP: 0x100,
  TSC_FACTOR: 0x160,
} as const;

export interface SecretsInput {
  /** CPUID Fn0000_0001_EAX of the part. */
  readonly fms: number;
  readonly gosvw: Uint8Array;
  readonly vmpck: readonly Uint8Array[];
  readonly imiEnabled?: boolean;
}

export function buildSecretsPage(s: SecretsInput): Uint8Array {
  if (s.gosvw.length !== GOSVW_SIZE) throw new RangeError(`GOSVW must be ${GOSVW_SIZE} bytes`);
  if (s.vmpck.length !== 4 || s.vmpck.some((k) => k.length !== VMPCK_SIZE)) throw new RangeError("need four 32-byte VMPCKs");
  const page = new Uint8Array(PAGE_SIZE);
  const dv = new DataView(page.buffer);
  dv.setUint32(SECRETS_OFFSET.VERSION, SECRETS_PAGE_VERSION, true);
  dv.setUint32(SECRETS_OFFSET.IMIEN, s.imiEnabled === true ? 1 : 0, true);
  dv.setUint32(SECRETS_OFFSET.FMS, s.fms >>> 0, true);
  page.set(s.gosvw, SECRETS_OFFSET.GOSVW);
  s.vmpck.forEach((k, i) => page.set(k, SECRETS_OFFSET.VMPCK[i]!));
  return page;
}
