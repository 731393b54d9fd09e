/**
 * Guest POLICY (u64) — SNP.md §1.2 (SNP ABI guest policy; go-sev-guest `ParseSnpPolicy`,
 * virtee `GuestPolicy`). Appears in SNP_LAUNCH_START, the ID block and the report at 0x008.
 */
import type { BitSpec } from "./layout.js";
import { getBits, setBits } from "./layout.js";

/** The bit table of SNP.md §1.2. */
export const GUEST_POLICY = {
  ABI_MINOR: { name: "ABI_MINOR", bit: 0, width: 8, note: "minimum firmware ABI minor" },
  ABI_MAJOR: { name: "ABI_MAJOR", bit: 8, width: 8, note: "minimum firmware ABI major" },
  SMT: { name: "SMT", bit: 16, width: 1, note: "1 = SMT allowed" },
  RESERVED_MBO: { name: "RESERVED_MBO", bit: 17, width: 1, note: "reserved, must be 1" },
  MIGRATE_MA: { name: "MIGRATE_MA", bit: 18, width: 1, note: "migration agent allowed" },
  DEBUG: { name: "DEBUG", bit: 19, width: 1, note: "host debug (SNP_DBG_DECRYPT/ENCRYPT) allowed" },
  SINGLE_SOCKET: { name: "SINGLE_SOCKET", bit: 20, width: 1 },
  CXL_ALLOW: { name: "CXL_ALLOW", bit: 21, width: 1 },
  MEM_AES_256_XTS: { name: "MEM_AES_256_XTS", bit: 22, width: 1 },
  RAPL_DIS: { name: "RAPL_DIS", bit: 23, width: 1 },
  CIPHERTEXT_HIDING: { name: "CIPHERTEXT_HIDING", bit: 24, width: 1, note: "CIPHERTEXT_HIDING(_DRAM)" },
  PAGE_SWAP_DISABLE: { name: "PAGE_SWAP_DISABLE", bit: 25, width: 1 },
  RESERVED: { name: "RESERVED", bit: 26, width: 38, note: "bits 63:26, must be zero" },
} as const satisfies Record<string, BitSpec>;

/** Bit 17: reserved, must be one. */
export const GUEST_POLICY_MBO = 1n << 17n;
/** Bits 63:26: reserved, must be zero. */
export const GUEST_POLICY_RESERVED_MASK = ((1n << 64n) - 1n) & ~((1n << 26n) - 1n);
/** A common policy: SMT allowed + the must-be-one bit. */
export const GUEST_POLICY_DEFAULT = 0x30000n;

export interface GuestPolicy {
  readonly abiMinor: number;
  readonly abiMajor: number;
  readonly smt: boolean;
  readonly migrateMa: boolean;
  readonly debug: boolean;
  readonly singleSocket: boolean;
  readonly cxlAllow: boolean;
  readonly memAes256Xts: boolean;
  readonly raplDis: boolean;
  readonly ciphertextHiding: boolean;
  readonly pageSwapDisable: boolean;
}

const FLAGS = [
  ["smt", GUEST_POLICY.SMT],
  ["migrateMa", GUEST_POLICY.MIGRATE_MA],
  ["debug", GUEST_POLICY.DEBUG],
  ["singleSocket", GUEST_POLICY.SINGLE_SOCKET],
  ["cxlAllow", GUEST_POLICY.CXL_ALLOW],
  ["memAes256Xts", GUEST_POLICY.MEM_AES_256_XTS],
  ["raplDis", GUEST_POLICY.RAPL_DIS],
  ["ciphertextHiding", GUEST_POLICY.CIPHERTEXT_HIDING],
  ["pageSwapDisable", GUEST_POLICY.PAGE_SWAP_DISABLE],
] as const;

/** Decodes the named bits. Does not validate (see `validatePolicyBits`). */
export function decodeGuestPolicy(v: bigint): GuestPolicy {
  const out: Record<string, number | boolean> = {
    abiMinor: Number(getBits(v, GUEST_POLICY.ABI_MINOR)),
    abiMajor: Number(getBits(v, GUEST_POLICY.ABI_MAJOR)),
  };
  for (const [k, spec] of FLAGS) out[k] = getBits(v, spec) === 1n;
  return out as unknown as GuestPolicy;
}

/** Encodes a policy; always sets the must-be-one bit 17 and leaves the reserved bits zero. */
export function encodeGuestPolicy(p: Partial<GuestPolicy>): bigint {
  const minor = p.abiMinor ?? 0;
  const major = p.abiMajor ?? 0;
  for (const [n, x] of [["abiMinor", minor], ["abiMajor", major]] as const) {
    if (!Number.isInteger(x) || x < 0 || x > 0xff) throw new RangeError(`guest policy ${n}: ${x} is not a u8`);
  }
  let v = GUEST_POLICY_MBO;
  v = setBits(v, GUEST_POLICY.ABI_MINOR, BigInt(minor));
  v = setBits(v, GUEST_POLICY.ABI_MAJOR, BigInt(major));
  for (const [k, spec] of FLAGS) if (p[k] === true) v = setBits(v, spec, 1n);
  return v;
}

export type PolicyBitIssueCode = "POLICY_BIT17_CLEAR" | "POLICY_RESERVED_BITS_SET";

export interface PolicyBitIssue {
  readonly code: PolicyBitIssueCode;
  /** The offending bits (bit 17, or the set reserved bits). */
  readonly mask: bigint;
}

/**
 * Structural check of a policy word (SNP.md §1.2): bit 17 must be 1, bits 63:26 must be 0.
 * Returns the problems found, in that order (empty = well-formed). Policy *decisions*
 * (DEBUG, SMT, ...) belong to the verifier, not here.
 */
export function validatePolicyBits(v: bigint): PolicyBitIssue[] {
  const issues: PolicyBitIssue[] = [];
  if ((v & GUEST_POLICY_MBO) === 0n) issues.push({ code: "POLICY_BIT17_CLEAR", mask: GUEST_POLICY_MBO });
  const rsvd = v & GUEST_POLICY_RESERVED_MASK;
  if (rsvd !== 0n) issues.push({ code: "POLICY_RESERVED_BITS_SET", mask: rsvd });
  return issues;
}
