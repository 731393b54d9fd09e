/**
 * The agent's TLS identity: an ECDSA P-256 key generated at boot from the agent's entropy,
 * and a self-signed X.509 v3 certificate over it (RFC 5280), signed deterministically
 * (RFC 6979) so that the same entropy gives the same certificate. Nobody is asked to trust
 * this certificate: the owner trusts the session because the attestation report binds
 * this TLS session's exporter (session-v1.ts); the prototype's v0 client checks nothing.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";

// ---- a minimal DER writer (only what a certificate needs)

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const b: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) b.unshift(x & 0xff);
  return [0x80 | b.length, ...b];
}
const tlv = (tag: number, body: Uint8Array): Uint8Array => Uint8Array.from([tag, ...len(body.length), ...body]);
const cat = (...p: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};
const seq = (...p: Uint8Array[]) => tlv(0x30, cat(...p));
const set = (...p: Uint8Array[]) => tlv(0x31, cat(...p));
function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const v of parts.slice(2)) {
    const b = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift((x & 0x7f) | 0x80);
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}
function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, b[0]! & 0x80 ? cat(Uint8Array.of(0), b) : b);
}
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const time = (s: string) => tlv(s.length === 13 ? 0x17 : 0x18, new TextEncoder().encode(s));
const bits = (b: Uint8Array) => tlv(0x03, cat(Uint8Array.of(0), b));
const explicit = (n: number, body: Uint8Array) => tlv(0xa0 | n, body);

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_CN = "2.5.4.3";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";

export const AGENT_CERT_SUBJECT = "00SEVen VMPL0 agent";
/** Fixed validity: the certificate carries no trust, so no clock is needed at boot. */
const NOT_BEFORE = "240101000000Z";
const NOT_AFTER = "20991231235959Z";

export interface TlsIdentity {
  readonly keyPem: string;
  readonly certPem: string;
  readonly certDer: Uint8Array;
  /** SubjectPublicKeyInfo DER of the key. */
  readonly spki: Uint8Array;
  readonly privateKey: KeyObject;
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** A P-256 key from ≥ 48 bytes of entropy, and its self-signed certificate. */
export function createTlsIdentity(entropy: Uint8Array, serial: Uint8Array): TlsIdentity {
  if (entropy.length < 48) throw new RangeError("need at least 48 bytes of entropy for the TLS key");
  const sk = p256.utils.randomSecretKey(entropy);
  const pub = p256.getPublicKey(sk, false);
  const spki = seq(seq(oid(OID_EC_PUBLIC_KEY), oid(OID_P256)), bits(pub));
  const algo = seq(oid(OID_ECDSA_SHA256));
  const name = seq(set(seq(oid(OID_CN), utf8(AGENT_CERT_SUBJECT))));
  const serialBytes = serial.slice(0, 16);
  serialBytes[0] = serialBytes[0]! & 0x7f;
  if (serialBytes.every((x) => x === 0)) serialBytes[serialBytes.length - 1] = 1;
  const ext = explicit(3, seq(seq(oid(OID_BASIC_CONSTRAINTS), tlv(0x01, Uint8Array.of(0xff)), tlv(0x04, seq()))));
  const tbs = seq(explicit(0, tlv(0x02, Uint8Array.of(2))), uint(serialBytes), algo, name, seq(time(NOT_BEFORE), time(NOT_AFTER)), name, spki, ext);
  const sig = p256.sign(tbs, sk, { format: "der", prehash: true, lowS: true });
  const certDer = seq(tbs, algo, bits(sig));
  const x = pub.subarray(1, 33);
  const y = pub.subarray(33, 65);
  const privateKey = createPrivateKey({ key: { kty: "EC", crv: "P-256", d: b64u(sk), x: b64u(x), y: b64u(y) }, format: "jwk" });
  const keyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const certPem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(certDer).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
  // Self-check: the certificate parses and carries the key (cheap, once per boot).
  const parsed = new X509Certificate(certDer);
  const got = new Uint8Array(parsed.publicKey.export({ format: "der", type: "spki" }));
  const want = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  if (Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0 || !parsed.verify(parsed.publicKey)) {
    throw new Error("self-signed certificate does not verify");
  }
  return { keyPem, certPem, certDer, spki: want, privateKey };
}
