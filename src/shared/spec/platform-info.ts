/**
 * PLATFORM_INFO (u64, ATTESTATION_REPORT 0x040) — SNP.md §1.3.
 * bit0 SMT_EN, bit1 TSME_EN, bit2 ECC_EN, bit3 RAPL_DIS, bit4 CIPHERTEXT_HIDING_DRAM_EN,
 * bit5 ALIAS_CHECK_COMPLETE (report v3+), bit6 reserved, bit7 SEV-TIO_EN; bits 63:8 reserved.
 */
import type { BitSpec } from "./layout.js";

export const PLATFORM_INFO = {
  SMT_EN: { name: "SMT_EN", bit: 0, width: 1 },
  TSME_EN: { name: "TSME_EN", bit: 1, width: 1 },
  ECC_EN: { name: "ECC_EN", bit: 2, width: 1 },
  RAPL_DIS: { name: "RAPL_DIS", bit: 3, width: 1 },
  CIPHERTEXT_HIDING_DRAM_EN: { name: "CIPHERTEXT_HIDING_DRAM_EN", bit: 4, width: 1 },
  ALIAS_CHECK_COMPLETE: { name: "ALIAS_CHECK_COMPLETE", bit: 5, width: 1, note: "report v3+" },
  SEV_TIO_EN: { name: "SEV_TIO_EN", bit: 7, width: 1 },
} as const satisfies Record<string, BitSpec>;

/** Bit 6 and bits 63:8. */
export const PLATFORM_INFO_RESERVED_MASK = ((1n << 64n) - 1n) & ~0xbfn;

export interface PlatformInfo {
  readonly smtEn: boolean;
  readonly tsmeEn: boolean;
  readonly eccEn: boolean;
  readonly raplDis: boolean;
  readonly ciphertextHidingDramEn: boolean;
  readonly aliasCheckComplete: boolean;
  readonly sevTioEn: boolean;
}

const FLAGS = [
  ["smtEn", PLATFORM_INFO.SMT_EN],
  ["tsmeEn", PLATFORM_INFO.TSME_EN],
  ["eccEn", PLATFORM_INFO.ECC_EN],
  ["raplDis", PLATFORM_INFO.RAPL_DIS],
  ["ciphertextHidingDramEn", PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN],
  ["aliasCheckComplete", PLATFORM_INFO.ALIAS_CHECK_COMPLETE],
  ["sevTioEn", PLATFORM_INFO.SEV_TIO_EN],
] as const;

/** Decodes the defined bits (reserved bits: `v & PLATFORM_INFO_RESERVED_MASK`). */
export function decodePlatformInfo(v: bigint): PlatformInfo {
  const out: Record<string, boolean> = {};
  for (const [k, s] of FLAGS) out[k] = ((v >> BigInt(s.bit)) & 1n) === 1n;
  return out as unknown as PlatformInfo;
}

export function encodePlatformInfo(p: Partial<PlatformInfo>): bigint {
  let v = 0n;
  for (const [k, s] of FLAGS) if (p[k] === true) v |= 1n << BigInt(s.bit);
  return v;
}
