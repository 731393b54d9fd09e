/**
 * ID_BLOCK, ID_AUTH and the ECDSA public-key struct — SNP.md §3.5 (sev-snp-measure
 * `id_block.py`, virtee `idblock_types.rs`) and §1.1 (key struct; signatures use the
 * 0x200-byte R/S format of ecdsa-signature.ts). Passed to SNP_LAUNCH_FINISH; the report's
 * ID_KEY_DIGEST / AUTHOR_KEY_DIGEST are SHA-384 of the 0x404-byte key structs.
 */
import { createHash } from "node:crypto";
import { DecodeError, readU32, readUintLE, writeUintLE } from "../base/index.js";
import { bytes, defineLayout, mbz, u32, u64f } from "./layout.js";
import type { Parsed } from "./layout.js";
import { SIGNATURE_SIZE } from "./ecdsa-signature.js";

export const ID_BLOCK_SIZE = 0x60;
export const ID_AUTH_SIZE = 0x1000;
export const ECDSA_PUBLIC_KEY_SIZE = 0x404;
/** ID_BLOCK.VERSION. */
export const ID_BLOCK_VERSION = 1;
/** ID_KEY_ALGO / AUTH_KEY_ALGO: ECDSA P-384 with SHA-384. */
export const ID_KEY_ALGO_ECDSA_P384_SHA384 = 1;
/** Curve id in the public-key struct. */
export const ECC_CURVE_P384 = 2;
const COORD_SIZE = 72;

export const ID_BLOCK = defineLayout({
  name: "ID_BLOCK",
  size: ID_BLOCK_SIZE,
  source: "SNP.md §3.5; SNP ABI ID_BLOCK",
  fields: [
    bytes("ld", 0x00, 48, "expected launch digest"),
    bytes("familyId", 0x30, 16),
    bytes("imageId", 0x40, 16),
    u32("version", 0x50, "= 1"),
    u32("guestSvn", 0x54),
    u64f("policy", 0x58, "must equal the launch policy"),
  ],
});
export type IdBlock = Parsed<typeof ID_BLOCK.fields>;

export const ID_AUTH = defineLayout({
  name: "ID_AUTH",
  size: ID_AUTH_SIZE,
  source: "SNP.md §3.5; SNP ABI ID_AUTH",
  fields: [
    u32("idKeyAlgo", 0x000, "1 = ECDSA P-384/SHA-384"),
    u32("authKeyAlgo", 0x004),
    mbz("reserved_0x008", 0x008, 0x38),
    bytes("idBlockSig", 0x040, SIGNATURE_SIZE, "ID key over the 0x60-byte ID block"),
    bytes("idKey", 0x240, ECDSA_PUBLIC_KEY_SIZE),
    mbz("reserved_0x644", 0x644, 0x3c),
    bytes("idKeySig", 0x680, SIGNATURE_SIZE, "author key over the 0x404-byte ID key struct"),
    bytes("authorKey", 0x880, ECDSA_PUBLIC_KEY_SIZE),
    mbz("reserved_0xc84", 0xc84, 0x37c),
  ],
});
export type IdAuth = Parsed<typeof ID_AUTH.fields>;

export const ECDSA_PUBLIC_KEY = defineLayout({
  name: "ECDSA_PUBLIC_KEY",
  size: ECDSA_PUBLIC_KEY_SIZE,
  source: "SNP.md §1.1; SNP ABI ECDSA public key format",
  fields: [
    u32("curve", 0x000, "2 = P-384"),
    bytes("qx", 0x004, COORD_SIZE, "72-byte little-endian"),
    bytes("qy", 0x04c, COORD_SIZE, "72-byte little-endian"),
    mbz("reserved_0x094", 0x094, 0x370),
  ],
});

export interface EcPoint {
  readonly x: bigint;
  readonly y: bigint;
}

/** The 0x404-byte ABI struct of a P-384 public key. */
export function ecdsaPublicKeyStruct(p: EcPoint): Uint8Array {
  const qx = new Uint8Array(COORD_SIZE);
  const qy = new Uint8Array(COORD_SIZE);
  writeUintLE(qx, 0, COORD_SIZE, p.x);
  writeUintLE(qy, 0, COORD_SIZE, p.y);
  return ECDSA_PUBLIC_KEY.serialize({ curve: ECC_CURVE_P384, qx, qy });
}

/** Parses a key struct (strict: length, reserved bytes, curve = P-384). */
export function parseEcdsaPublicKeyStruct(b: Uint8Array): EcPoint {
  if (b.length !== ECDSA_PUBLIC_KEY_SIZE) {
    throw new DecodeError("BAD_LENGTH", `ECDSA public key struct is ${b.length} bytes, need ${ECDSA_PUBLIC_KEY_SIZE}`, {
      field: "publicKey",
      expected: ECDSA_PUBLIC_KEY_SIZE,
      actual: b.length,
    });
  }
  const k = ECDSA_PUBLIC_KEY.parse(b);
  if (k.curve !== ECC_CURVE_P384) {
    throw new DecodeError("UNSUPPORTED_CURVE", `curve ${k.curve}, need ${ECC_CURVE_P384} (P-384)`, { field: "curve", value: k.curve });
  }
  return { x: readUintLE(k.qx, 0, COORD_SIZE), y: readUintLE(k.qy, 0, COORD_SIZE) };
}

/** ID_KEY_DIGEST / AUTHOR_KEY_DIGEST: SHA-384 of the 0x404-byte key struct. */
export function keyStructDigest(keyStruct: Uint8Array): Uint8Array {
  if (keyStruct.length !== ECDSA_PUBLIC_KEY_SIZE) throw new RangeError(`key struct must be ${ECDSA_PUBLIC_KEY_SIZE} bytes`);
  return new Uint8Array(createHash("sha384").update(keyStruct).digest());
}

/** Strict parse of an ID block: length (exactly 0x60), then VERSION = 1. */
export function parseIdBlock(b: Uint8Array): IdBlock {
  if (b.length !== ID_BLOCK_SIZE) {
    throw new DecodeError("BAD_LENGTH", `ID_BLOCK is ${b.length} bytes, need ${ID_BLOCK_SIZE}`, { field: "idBlock", expected: ID_BLOCK_SIZE, actual: b.length });
  }
  const version = readU32(b, 0x50);
  if (version !== ID_BLOCK_VERSION) {
    throw new DecodeError("UNSUPPORTED_VERSION", `ID_BLOCK version ${version}, need ${ID_BLOCK_VERSION}`, { field: "version", value: version });
  }
  return ID_BLOCK.parse(b);
}

/** Strict parse of ID_AUTH: length (exactly 0x1000), reserved bytes zero. Algorithms are returned raw. */
export function parseIdAuth(b: Uint8Array): IdAuth {
  if (b.length !== ID_AUTH_SIZE) {
    throw new DecodeError("BAD_LENGTH", `ID_AUTH is ${b.length} bytes, need ${ID_AUTH_SIZE}`, { field: "idAuth", expected: ID_AUTH_SIZE, actual: b.length });
  }
  return ID_AUTH.parse(b);
}
