/**
 * The owner's TLS client certificate, made on the fly. The agent admits a v1 session only
 * when the client certificate's public key equals the owner key in its measured
 * configuration; nothing else in the certificate matters (the agent trusts no CA), so the
 * certificate is self-signed, with a fixed wide validity and a random serial.
 *
 * A minimal DER writer is enough for the few structures involved (RFC 5280 §4.1):
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { [0] version v3, serialNumber, signature, issuer, validity,
 *                                 subject, subjectPublicKeyInfo }
 * signed with ECDSA (SHA-256 for P-256, SHA-384 for P-384; RFC 5758 §3.2).
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { SessionError } from "./errors.js";

export interface OwnerIdentity {
  /** The owner's private key (EC P-256 or P-384). */
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER of the owner's public key (what the agent's configuration holds). */
  readonly publicKeyDer: Uint8Array;
  /** The self-signed certificate, DER and PEM. */
  readonly certificateDer: Uint8Array;
  readonly certificatePem: string;
  readonly curve: "prime256v1" | "secp384r1";
}

// ---- a minimal DER writer ------------------------------------------------------------

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const len = content.reduce((s, c) => s + c.length, 0);
  const l = derLength(len);
  const out = new Uint8Array(1 + l.length + len);
  out[0] = tag;
  out.set(l, 1);
  let o = 1 + l.length;
  for (const c of content) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const seq = (...c: Uint8Array[]): Uint8Array => tlv(0x30, ...c);

function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map((p) => BigInt(p));
  const body: number[] = [Number(parts[0]! * 40n + parts[1]!)];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    groups.forEach((g, i) => body.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return tlv(0x06, Uint8Array.from(body));
}

/** A positive INTEGER from big-endian magnitude bytes. */
function positiveInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return (m[0]! & 0x80) !== 0 ? tlv(0x02, Uint8Array.of(0), m) : tlv(0x02, m);
}

function name(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, new TextEncoder().encode(cn)))));
}

const utcTime = (s: string): Uint8Array => tlv(0x17, new TextEncoder().encode(s));

const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const ECDSA_SHA384 = "1.2.840.10045.4.3.3";

// ---- the owner identity ----------------------------------------------------------------

/** Builds the owner's identity from a private key (KeyObject, PEM or DER PKCS#8/SEC1). */
export function ownerIdentity(key: KeyObject | string | Uint8Array, subject = "00SEVen owner"): OwnerIdentity {
  let privateKey: KeyObject;
  try {
    privateKey =
      typeof key === "string"
        ? createPrivateKey(key)
        : key instanceof Uint8Array
          ? looksPem(key)
            ? createPrivateKey(Buffer.from(key).toString("utf8"))
            : createPrivateKey({ key: Buffer.from(key), format: "der", type: "pkcs8" })
          : key;
  } catch (e) {
    throw new SessionError("BAD_OWNER_KEY", `the owner key is not a private key (${(e as Error).message})`, {}, { cause: e });
  }
  if (privateKey.type !== "private") throw new SessionError("BAD_OWNER_KEY", "the owner key must be a private key", { type: privateKey.type });
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== "ec" || (curve !== "prime256v1" && curve !== "secp384r1")) {
    throw new SessionError("BAD_OWNER_KEY", "the owner key must be an ECDSA P-256 or P-384 key", { type: privateKey.asymmetricKeyType, curve });
  }
  const publicKeyDer = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  const hash = curve === "prime256v1" ? "sha256" : "sha384";
  const algorithm = seq(oid(curve === "prime256v1" ? ECDSA_SHA256 : ECDSA_SHA384));
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Uint8Array.of(2))),
    positiveInteger(serial),
    algorithm,
    name(subject),
    seq(utcTime("200101000000Z"), utcTime("491231235959Z")),
    name(subject),
    publicKeyDer,
  );
  const signature = new Uint8Array(sign(hash, tbs, { key: privateKey, dsaEncoding: "der" }));
  const certificateDer = seq(tbs, algorithm, tlv(0x03, Uint8Array.of(0), signature));
  return { privateKey, publicKeyDer, certificateDer, certificatePem: pem("CERTIFICATE", certificateDer), curve };
}

/** Reads an owner private key file (PEM, or DER PKCS#8). */
export async function loadOwnerIdentity(path: string): Promise<OwnerIdentity> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new SessionError("BAD_OWNER_KEY", `cannot read the owner key ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path });
  }
  try {
    return ownerIdentity(bytes);
  } catch (e) {
    if (e instanceof SessionError) throw new SessionError(e.code, `${path}: ${e.message}`, { ...e.details, path });
    throw e;
  }
}

function looksPem(b: Uint8Array): boolean {
  return Buffer.from(b.subarray(0, 64)).toString("latin1").includes("-----BEGIN");
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
