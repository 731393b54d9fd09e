/**
 * Report signer info (u32 at ATTESTATION_REPORT 0x048) — SNP.md §1 row 0x048 and §1.1:
 * bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY (0 VCEK, 1 VLEK,
 * 2–6 reserved, 7 none), bits 31:5 must be zero.
 */
import type { BitSpec } from "./layout.js";

export const SIGNER_INFO = {
  AUTHOR_KEY_EN: { name: "AUTHOR_KEY_EN", bit: 0, width: 1, note: "AUTHOR_KEY_DIGEST is valid" },
  MASK_CHIP_KEY: { name: "MASK_CHIP_KEY", bit: 1, width: 1, note: "1 = firmware does not sign; SIGNATURE all zero" },
  SIGNING_KEY: { name: "SIGNING_KEY", bit: 2, width: 3, note: "0 VCEK, 1 VLEK, 7 none" },
  RESERVED: { name: "RESERVED", bit: 5, width: 27, note: "bits 31:5 must be zero" },
} as const satisfies Record<string, BitSpec>;

/** SIGNING_KEY values. 2–6 are reserved. */
export const SIGNING_KEY = { VCEK: 0, VLEK: 1, NONE: 7 } as const;
export type SigningKeyName = "vcek" | "vlek" | "none" | "reserved";

/** Bits 31:5. */
export const SIGNER_INFO_RESERVED_MASK = 0xffff_ffe0;

export interface SignerInfo {
  readonly authorKeyEn: boolean;
  readonly maskChipKey: boolean;
  /** Raw SIGNING_KEY value (0–7). */
  readonly signingKey: number;
  readonly signingKeyName: SigningKeyName;
}

export function signingKeyName(code: number): SigningKeyName {
  switch (code) {
    case SIGNING_KEY.VCEK:
      return "vcek";
    case SIGNING_KEY.VLEK:
      return "vlek";
    case SIGNING_KEY.NONE:
      return "none";
    default:
      return "reserved";
  }
}

/** Decodes the defined bits (the reserved bits are checked by the report parser). */
export function decodeSignerInfo(v: number): SignerInfo {
  const signingKey = (v >>> SIGNER_INFO.SIGNING_KEY.bit) & 0x7;
  return {
    authorKeyEn: (v & 1) === 1,
    maskChipKey: ((v >>> 1) & 1) === 1,
    signingKey,
    signingKeyName: signingKeyName(signingKey),
  };
}

export function encodeSignerInfo(s: { authorKeyEn?: boolean; maskChipKey?: boolean; signingKey: number }): number {
  if (!Number.isInteger(s.signingKey) || s.signingKey < 0 || s.signingKey > 7) {
    throw new RangeError(`SIGNING_KEY ${s.signingKey} does not fit in 3 bits`);
  }
  return ((s.authorKeyEn === true ? 1 : 0) | (s.maskChipKey === true ? 2 : 0) | (s.signingKey << 2)) >>> 0;
}
