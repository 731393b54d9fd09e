/**
 * RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt (AMD's certificate signatures,
 * SNP.md §2.1), made deterministic: PSS normally draws a random salt, which would make the
 * simulated certificates differ on every run. Here the salt is the first 48 bytes of
 * HMAC-SHA-384(saltKey, message), where `saltKey` is secret material of the signing key.
 * The output is an ordinary PSS signature (any verifier accepts it); only its salt is
 * predictable to the holder of `saltKey`.
 *
 * EMSA-PSS-ENCODE is RFC 8017 §9.1.1; the RSA private operation is node:crypto's
 * `privateEncrypt` with RSA_NO_PADDING (RSASP1).
 */
import { constants, createHash, createHmac, privateEncrypt } from "node:crypto";
import type { KeyObject } from "node:crypto";

const H_LEN = 48;
export const PSS_SALT_LEN = 48;

function sha384(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha384");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function mgf1(seed: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const c = new Uint8Array(4);
  for (let i = 0, o = 0; o < len; i++, o += H_LEN) {
    new DataView(c.buffer).setUint32(0, i);
    out.set(sha384(seed, c).subarray(0, Math.min(H_LEN, len - o)), o);
  }
  return out;
}

/** EMSA-PSS-ENCODE(M, emBits) with the given salt (RFC 8017 §9.1.1). */
export function emsaPssEncode(message: Uint8Array, emBits: number, salt: Uint8Array): Uint8Array {
  const emLen = Math.ceil(emBits / 8);
  if (emLen < H_LEN + salt.length + 2) throw new RangeError("encoding error: modulus too small");
  const mHash = sha384(message);
  const h = sha384(new Uint8Array(8), mHash, salt);
  const db = new Uint8Array(emLen - H_LEN - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - emBits);
  const em = new Uint8Array(emLen);
  em.set(db, 0);
  em.set(h, db.length);
  em[emLen - 1] = 0xbc;
  return em;
}

/** A deterministic RSASSA-PSS-SHA384 signature (salt 48) of `message`. */
export function signPssDeterministic(message: Uint8Array, privateKey: KeyObject, saltKey: Uint8Array): Uint8Array {
  const modBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (modBits === undefined || privateKey.asymmetricKeyType !== "rsa") throw new RangeError("need an RSA private key");
  const salt = new Uint8Array(createHmac("sha384", saltKey).update(message).digest()).subarray(0, PSS_SALT_LEN);
  const em = emsaPssEncode(message, modBits - 1, salt);
  const k = Math.ceil(modBits / 8);
  const padded = new Uint8Array(k);
  padded.set(em, k - em.length);
  return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, padded));
}
