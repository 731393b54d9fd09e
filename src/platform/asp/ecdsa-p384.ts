/**
 * ECDSA P-384 with SHA-384 as the ASP uses it: signing reports with the VCEK and checking
 * ID-block signatures (SNP.md §1.1, §3.5). @noble/curves gives RFC 6979 deterministic
 * signatures, so a report signed twice with the same key is byte-identical.
 */
import { p384 } from "@noble/curves/nist.js";
import { signatureToRS } from "../../shared/spec/index.js";
import type { EcdsaRS, EcPoint } from "../../shared/spec/index.js";

const CURVE = p384.Point.CURVE();
const COORD = 48;

/** A private scalar in [1, n-1] from at least 64 bytes of key material (bias < 2^-128). */
export function scalarFromBytes(material: Uint8Array): Uint8Array {
  if (material.length < COORD + 16) throw new RangeError("need at least 64 bytes of key material");
  let v = 0n;
  for (const b of material) v = (v << 8n) | BigInt(b);
  return bigintToBytes((v % (CURVE.n - 1n)) + 1n, COORD);
}

export function publicPoint(secret: Uint8Array): EcPoint {
  const pub = p384.getPublicKey(secret, false);
  return { x: bytesToBigint(pub.subarray(1, 1 + COORD)), y: bytesToBigint(pub.subarray(1 + COORD)) };
}

/** Uncompressed SEC1 encoding 04‖X‖Y. */
export function sec1(p: EcPoint): Uint8Array {
  const out = new Uint8Array(1 + 2 * COORD);
  out[0] = 4;
  out.set(bigintToBytes(p.x, COORD), 1);
  out.set(bigintToBytes(p.y, COORD), 1 + COORD);
  return out;
}

/** ECDSA-P384-SHA384 over `message` (hashed here), deterministic (RFC 6979). */
export function signP384(message: Uint8Array, secret: Uint8Array): EcdsaRS {
  const sig = p384.Signature.fromBytes(p384.sign(message, secret, { prehash: true }));
  return { r: sig.r, s: sig.s };
}

/** Verifies a 0x200-byte SNP signature field over `message` with the public key `p`. */
export function verifyP384Field(message: Uint8Array, sigField: Uint8Array, p: EcPoint): boolean {
  try {
    const { r, s } = signatureToRS(sigField);
    if (r <= 0n || s <= 0n || r >= CURVE.n || s >= CURVE.n) return false;
    const compact = new Uint8Array(2 * COORD);
    compact.set(bigintToBytes(r, COORD), 0);
    compact.set(bigintToBytes(s, COORD), COORD);
    return p384.verify(compact, message, sec1(p), { prehash: true, lowS: false });
  } catch {
    return false;
  }
}

export function bigintToBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n || v >= 1n << BigInt(8 * len)) throw new RangeError(`value does not fit in ${len} bytes`);
  const out = new Uint8Array(len);
  let x = v;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

export function bytesToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
