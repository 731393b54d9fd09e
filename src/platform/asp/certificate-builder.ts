/**
 * Assembles X.509 v3 certificates in AMD's profile (SNP.md §2.1) and signs them with a
 * deterministic RSASSA-PSS-SHA384 signature (rsa-pss.ts).
 *
 * Encoding is done here with a small DER writer rather than @peculiar/x509: that library's
 * builders are asynchronous (WebCrypto) and it needs a global reflect-metadata polyfill that
 * the project does not install, while the ASP must produce its certificates synchronously
 * (`AspPort.certificates()`, `arkPem`). The tests check the output against AMD's real
 * certificates byte for byte where the content is the same (names, extensions, algorithm
 * identifiers) and verify the chain with node:crypto and openssl.
 */
import { createHash } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { amdDn } from "../../shared/spec/index.js";
import { derBitString, derOctetString, derOid, derTime, derUint, explicit, rsaPssSha384AlgorithmId, seq, tlv } from "./der.js";
import { sec1 } from "./ecdsa-p384.js";
import type { EcPoint } from "../../shared/spec/index.js";
import { signPssDeterministic } from "./rsa-pss.js";

const ATTR_OID: Record<string, string> = {
  CN: "2.5.4.3",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  O: "2.5.4.10",
  OU: "2.5.4.11",
};

/** AMD's DN for `cn` (OU, C, L, ST, O, CN; C as PrintableString, the rest UTF8String — as AMD encodes them). */
export function amdName(cn: string): Uint8Array {
  const rdns = amdDn(cn).map(([attr, value]) => {
    const oid = ATTR_OID[attr];
    if (oid === undefined) throw new RangeError(`no OID for DN attribute ${attr}`);
    const str = tlv(attr === "C" ? 0x13 : 0x0c, new Uint8Array(Buffer.from(value, "utf8")));
    return tlv(0x31, seq(derOid(oid), str));
  });
  return seq(...rdns);
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING }. */
export function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? seq(derOid(oid), new Uint8Array([0x01, 0x01, 0xff]), derOctetString(value))
    : seq(derOid(oid), derOctetString(value));
}

export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/**
 * keyUsage (critical): one byte of named bits (digitalSignature … cRLSign, bits 0–6) with the
 * unused-bits count 1, exactly as AMD encodes it (their ASK's certSign-only value is
 * 03 02 01 04, not the minimal 03 02 02 04).
 */
export function keyUsageExtension(bits: readonly number[]): Uint8Array {
  let b = 0;
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0 || bit > 6) throw new RangeError(`keyUsage bit ${bit} is outside 0–6`);
    b |= 0x80 >> bit;
  }
  return extension("2.5.29.15", true, new Uint8Array([0x03, 0x02, 0x01, b]));
}

/** basicConstraints (critical) CA:TRUE [, pathlen]. */
export function basicConstraintsExtension(pathLen?: number): Uint8Array {
  const body: Uint8Array[] = [new Uint8Array([0x01, 0x01, 0xff])];
  if (pathLen !== undefined) body.push(derUint(pathLen));
  return extension("2.5.29.19", true, seq(...body));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value (for RSA, the PKCS#1 RSAPublicKey). */
export function keyIdentifier(subjectPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(subjectPublicKey).digest());
}

export const subjectKeyIdExtension = (id: Uint8Array): Uint8Array => extension("2.5.29.14", false, derOctetString(id));
export const authorityKeyIdExtension = (id: Uint8Array): Uint8Array => extension("2.5.29.35", false, seq(tlv(0x80, id)));

/** cRLDistributionPoints with one fullName URI. */
export function crlDistributionPointExtension(url: string): Uint8Array {
  const uri = tlv(0x86, new Uint8Array(Buffer.from(url, "ascii")));
  return extension("2.5.29.31", false, seq(seq(explicit(0, explicit(0, uri)))));
}

/** SubjectPublicKeyInfo of a P-384 public key (id-ecPublicKey, secp384r1, uncompressed point). */
export function ecP384Spki(p: EcPoint): Uint8Array {
  return seq(seq(derOid("1.2.840.10045.2.1"), derOid("1.3.132.0.34")), derBitString(sec1(p)));
}

export interface CertificateSigner {
  /** DER Name of the signer (the new certificate's issuer). */
  readonly name: Uint8Array;
  readonly privateKey: KeyObject;
  /** Secret that makes the PSS salt deterministic. */
  readonly saltKey: Uint8Array;
}

export interface CertificateParams {
  readonly serial: bigint | number;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly extensions: readonly Uint8Array[];
  readonly issuer: CertificateSigner;
  /** Write the PSS trailerField (DEFAULT 1) explicitly, as AMD's ARK/ASK certificates do. */
  readonly explicitPssTrailer: boolean;
}

/** A DER certificate: TBSCertificate signed with RSASSA-PSS-SHA384 by `issuer`. */
export function buildCertificate(p: CertificateParams): Uint8Array {
  const alg = rsaPssSha384AlgorithmId(p.explicitPssTrailer);
  const tbs = seq(
    explicit(0, derUint(2)),
    derUint(BigInt(p.serial)),
    alg,
    p.issuer.name,
    seq(derTime(p.notBefore), derTime(p.notAfter)),
    p.subject,
    p.spki,
    explicit(3, seq(...p.extensions)),
  );
  const sig = signPssDeterministic(tbs, p.issuer.privateKey, p.issuer.saltKey);
  return seq(tbs, alg, derBitString(sig));
}

export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Adds whole years in UTC (Feb 29 → Mar 1 in a non-leap year, as Date does). */
export function addYears(d: Date, years: number): Date {
  const r = new Date(d.getTime());
  r.setUTCFullYear(r.getUTCFullYear() + years);
  return r;
}
