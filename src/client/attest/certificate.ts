/**
 * X.509 certificates as the verifier sees them: the raw DER split into the pieces the
 * checks need (tbsCertificate bytes, both signature AlgorithmIdentifiers, names,
 * validity, SubjectPublicKeyInfo, extensions). Parsing is strict DER through der.ts;
 * cryptography stays in node:crypto. Accepts DER or PEM.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { DecodeError } from "../../shared/base/index.js";
import {
  contents,
  ctx,
  DerError,
  DerReader,
  encoded,
  parseDer,
  readBitString,
  readBoolean,
  readOid,
  readSmallInteger,
  readString,
  readTime,
  readUnsignedInteger,
  TAG,
  type DerNode,
} from "./der.js";

export const OID = {
  COMMON_NAME: "2.5.4.3",
  BASIC_CONSTRAINTS: "2.5.29.19",
  KEY_USAGE: "2.5.29.15",
  RSA_ENCRYPTION: "1.2.840.113549.1.1.1",
  RSASSA_PSS: "1.2.840.113549.1.1.10",
  MGF1: "1.2.840.113549.1.1.8",
  SHA384: "2.16.840.1.101.3.4.2.2",
  EC_PUBLIC_KEY: "1.2.840.10045.2.1",
  SECP384R1: "1.3.132.0.34",
} as const;

export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** Contents of the extnValue OCTET STRING. */
  readonly value: Uint8Array;
}

export interface Certificate {
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string;
  readonly version: number;
  readonly serial: bigint;
  /** The whole tbsCertificate TLV: what the issuer signed. */
  readonly tbs: Uint8Array;
  /** tbsCertificate.signature AlgorithmIdentifier (whole TLV). */
  readonly tbsSignatureAlgorithm: Uint8Array;
  /** Certificate.signatureAlgorithm (whole TLV). */
  readonly signatureAlgorithm: Uint8Array;
  readonly signature: Uint8Array;
  /** Raw Name TLVs, compared byte for byte when chaining. */
  readonly issuerRaw: Uint8Array;
  readonly subjectRaw: Uint8Array;
  readonly issuer: readonly NameAttribute[];
  readonly subject: readonly NameAttribute[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** SubjectPublicKeyInfo TLV. */
  readonly spki: Uint8Array;
  readonly publicKeyAlgorithm: string;
  /** Algorithm parameter OID (the curve for EC keys), if any. */
  readonly publicKeyParameter: string | undefined;
  readonly extensions: readonly Extension[];
}

export const commonName = (name: readonly NameAttribute[]): string | undefined =>
  name.find((a) => a.oid === OID.COMMON_NAME)?.value;

export function findExtension(c: Certificate, oid: string): Extension | undefined {
  return c.extensions.find((e) => e.oid === oid);
}

/** Parses one DER certificate. Throws DecodeError (DER_MALFORMED / CERT_MALFORMED). */
export function parseCertificate(der: Uint8Array): Certificate {
  const bytes = new Uint8Array(der);
  const root = parseDer(bytes, TAG.SEQUENCE, "Certificate");
  const r = DerReader.of(root);
  const tbsNode = r.next(TAG.SEQUENCE, "tbsCertificate");
  const sigAlgNode = r.next(TAG.SEQUENCE, "signatureAlgorithm");
  const sigNode = r.next(TAG.BIT_STRING, "signatureValue");
  r.done("Certificate");
  const sig = readBitString(sigNode);
  if (sig.unused !== 0) throw new DerError("signature BIT STRING has unused bits");

  const t = DerReader.of(tbsNode);
  const verNode = t.optional(ctx(0));
  let version = 1;
  if (verNode) {
    const vr = DerReader.of(verNode);
    version = readSmallInteger(vr.next(TAG.INTEGER, "version")) + 1;
    vr.done("version");
  }
  const serial = readSerial(t.next(TAG.INTEGER, "serialNumber"));
  const tbsSigAlg = t.next(TAG.SEQUENCE, "signature");
  const issuerNode = t.next(TAG.SEQUENCE, "issuer");
  const validity = DerReader.of(t.next(TAG.SEQUENCE, "validity"));
  const notBefore = readTime(validity.next(undefined, "notBefore"));
  const notAfter = readTime(validity.next(undefined, "notAfter"));
  validity.done("validity");
  const subjectNode = t.next(TAG.SEQUENCE, "subject");
  const spkiNode = t.next(TAG.SEQUENCE, "subjectPublicKeyInfo");
  t.optional(0x81); // issuerUniqueID
  t.optional(0x82); // subjectUniqueID
  const extsWrap = t.optional(ctx(3));
  t.done("tbsCertificate");
  if (version !== 3) throw new DecodeError("CERT_MALFORMED", `X.509 version ${version}, expected 3`, { version });

  const spki = DerReader.of(spkiNode);
  const alg = DerReader.of(spki.next(TAG.SEQUENCE, "SPKI algorithm"));
  const publicKeyAlgorithm = readOid(alg.next(TAG.OID, "SPKI algorithm OID"));
  const param = alg.atEnd() ? undefined : alg.next(undefined, "SPKI algorithm parameters");
  alg.done("SPKI algorithm");
  spki.next(TAG.BIT_STRING, "subjectPublicKey");
  spki.done("subjectPublicKeyInfo");

  return {
    der: bytes,
    fingerprint: createHash("sha256").update(bytes).digest("hex"),
    version,
    serial,
    tbs: encoded(tbsNode),
    tbsSignatureAlgorithm: encoded(tbsSigAlg),
    signatureAlgorithm: encoded(sigAlgNode),
    signature: sig.bytes,
    issuerRaw: encoded(issuerNode),
    subjectRaw: encoded(subjectNode),
    issuer: readName(issuerNode),
    subject: readName(subjectNode),
    notBefore,
    notAfter,
    spki: encoded(spkiNode),
    publicKeyAlgorithm,
    publicKeyParameter: param?.tag === TAG.OID ? readOid(param) : undefined,
    extensions: extsWrap ? readExtensions(extsWrap) : [],
  };
}

function readSerial(n: DerNode): bigint {
  // Serial numbers may be zero (AMD's VCEKs use 0); negative ones are rejected.
  return readUnsignedInteger(n);
}

function readName(n: DerNode): NameAttribute[] {
  const out: NameAttribute[] = [];
  const r = DerReader.of(n);
  while (!r.atEnd()) {
    const set = DerReader.of(r.next(TAG.SET, "RelativeDistinguishedName"));
    do {
      const atv = DerReader.of(set.next(TAG.SEQUENCE, "AttributeTypeAndValue"));
      const oid = readOid(atv.next(TAG.OID, "attribute type"));
      const v = atv.next(undefined, "attribute value");
      atv.done("AttributeTypeAndValue");
      let value: string;
      try {
        value = readString(v);
      } catch {
        value = Buffer.from(contents(v)).toString("hex");
      }
      out.push({ oid, value });
    } while (!set.atEnd());
  }
  return out;
}

function readExtensions(wrap: DerNode): Extension[] {
  const w = DerReader.of(wrap);
  const seq = w.next(TAG.SEQUENCE, "extensions");
  w.done("extensions wrapper");
  const r = DerReader.of(seq);
  const out: Extension[] = [];
  const seen = new Set<string>();
  while (!r.atEnd()) {
    const e = DerReader.of(r.next(TAG.SEQUENCE, "Extension"));
    const oid = readOid(e.next(TAG.OID, "extnID"));
    const critNode = e.optional(TAG.BOOLEAN);
    const critical = critNode ? readBoolean(critNode) : false;
    const value = contents(e.next(TAG.OCTET_STRING, "extnValue"));
    e.done("Extension");
    if (seen.has(oid)) throw new DecodeError("CERT_MALFORMED", `extension ${oid} appears twice`, { oid });
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  return out;
}

/** The subject public key as a node:crypto KeyObject (throws DecodeError if invalid). */
export function publicKeyOf(c: Certificate): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(c.spki), format: "der", type: "spki" });
  } catch (e: unknown) {
    throw new DecodeError("CERT_MALFORMED", `public key does not decode: ${(e as Error).message}`, {});
  }
}

/** Certificates in `input`: PEM text (one or more CERTIFICATE blocks) or one DER blob. */
export function decodeCertificates(input: Uint8Array | string): Uint8Array[] {
  const text = typeof input === "string" ? input : looksLikePem(input) ? Buffer.from(input).toString("latin1") : undefined;
  if (text === undefined) return [new Uint8Array(input as Uint8Array)];
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const b64 = m[1]!.replace(/\s+/g, "");
    if (b64.length % 4 !== 0) throw new DecodeError("PEM_MALFORMED", "PEM body is not valid base64", {});
    out.push(new Uint8Array(Buffer.from(b64, "base64")));
  }
  if (out.length === 0) throw new DecodeError("PEM_MALFORMED", "no PEM CERTIFICATE block found", {});
  return out;
}

function looksLikePem(b: Uint8Array): boolean {
  const head = Buffer.from(b.subarray(0, Math.min(b.length, 4096))).toString("latin1");
  return head.includes("-----BEGIN ");
}

export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}
