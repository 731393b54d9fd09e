/**
 * Test certificates in AMD's profile (SNP.md §2.1/§2.2), with one-field overrides:
 * RSA CAs signed RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48, P-384 VCEK/VLEK with AMD's
 * OID extensions. RSA keys are 2048-bit here for speed (AMD's are 4096); they are made
 * once per process. Built with a small DER writer and node:crypto signing so that any
 * field can be made wrong on purpose.
 */
import { constants, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { bitString, bool, explicit, ia5, int, nul, octets, oid, printable, seq, set, time, utf8 } from "./der-writer.js";

const OIDS = {
  RSASSA_PSS: "1.2.840.113549.1.1.10",
  SHA384_WITH_RSA: "1.2.840.113549.1.1.12",
  MGF1: "1.2.840.113549.1.1.8",
  SHA384: "2.16.840.1.101.3.4.2.2",
  SHA256: "2.16.840.1.101.3.4.2.1",
  BASIC_CONSTRAINTS: "2.5.29.19",
  KEY_USAGE: "2.5.29.15",
  AMD: "1.3.6.1.4.1.3704.1",
} as const;

/** How a certificate is signed (what the AlgorithmIdentifier says and what is done). */
export type SignatureScheme =
  | { readonly kind: "pss"; readonly hash?: "sha384" | "sha256"; readonly mgfHash?: "sha384" | "sha256"; readonly salt?: number; readonly explicitTrailer?: boolean }
  | { readonly kind: "pkcs1" };

export const AMD_PSS_SCHEME: SignatureScheme = { kind: "pss" };

export function algorithmIdentifier(s: SignatureScheme): Uint8Array {
  if (s.kind === "pkcs1") return seq(oid(OIDS.SHA384_WITH_RSA), nul());
  const h = (name: "sha384" | "sha256"): Uint8Array => seq(oid(name === "sha384" ? OIDS.SHA384 : OIDS.SHA256), nul());
  const params = [
    explicit(0, h(s.hash ?? "sha384")),
    explicit(1, seq(oid(OIDS.MGF1), h(s.mgfHash ?? s.hash ?? "sha384"))),
    explicit(2, int(s.salt ?? 48)),
    ...(s.explicitTrailer === true ? [explicit(3, int(1))] : []),
  ];
  return seq(oid(OIDS.RSASSA_PSS), seq(...params));
}

function signTbs(tbs: Uint8Array, key: KeyObject, s: SignatureScheme): Uint8Array {
  if (s.kind === "pkcs1") return new Uint8Array(sign("sha384", tbs, key));
  return new Uint8Array(sign(s.hash ?? "sha384", tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.salt ?? 48 }));
}

/** AMD's DN: OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=… */
export function amdName(cn: string): Uint8Array {
  const atv = (o: string, v: Uint8Array): Uint8Array => set(seq(oid(o), v));
  return seq(
    atv("2.5.4.11", utf8("Engineering")),
    atv("2.5.4.6", printable("US")),
    atv("2.5.4.7", utf8("Santa Clara")),
    atv("2.5.4.8", utf8("CA")),
    atv("2.5.4.10", utf8("Advanced Micro Devices")),
    atv("2.5.4.3", utf8(cn)),
  );
}

export interface ExtensionSpec {
  readonly oid: string;
  readonly critical: boolean;
  /** extnValue contents. */
  readonly value: Uint8Array;
}

export interface CertSpec {
  readonly subjectCn: string;
  readonly issuerCn: string;
  readonly serial?: bigint;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER of the subject key. */
  readonly publicKey: KeyObject;
  readonly extensions: readonly ExtensionSpec[];
  /** The issuer's private key. */
  readonly signingKey: KeyObject;
  readonly scheme?: SignatureScheme;
  /** tbsCertificate.signature, when it should differ from the outer AlgorithmIdentifier. */
  readonly tbsScheme?: SignatureScheme;
}

export function issueCertificate(spec: CertSpec): Uint8Array {
  const scheme = spec.scheme ?? AMD_PSS_SCHEME;
  const spki = new Uint8Array(spec.publicKey.export({ format: "der", type: "spki" }));
  const tbs = seq(
    explicit(0, int(2)),
    int(spec.serial ?? 1n),
    algorithmIdentifier(spec.tbsScheme ?? scheme),
    amdName(spec.issuerCn),
    seq(time(spec.notBefore), time(spec.notAfter)),
    amdName(spec.subjectCn),
    spki,
    ...(spec.extensions.length > 0
      ? [explicit(3, seq(...spec.extensions.map((e) => seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value)))))]
      : []),
  );
  return seq(tbs, algorithmIdentifier(scheme), bitString(signTbs(tbs, spec.signingKey, scheme)));
}

// ---- extensions ----------------------------------------------------------------------

/** keyUsage with the given bit positions (0 digitalSignature … 5 keyCertSign, 6 cRLSign). */
export function keyUsage(bits: readonly number[], critical = true): ExtensionSpec {
  let byte = 0;
  for (const b of bits) byte |= 0x80 >> b;
  let unused = 0;
  while (unused < 8 && (byte & (1 << unused)) === 0) unused++;
  return { oid: OIDS.KEY_USAGE, critical, value: bitString(new Uint8Array([byte]), unused === 8 ? 0 : unused) };
}

export function basicConstraints(ca: boolean, pathLen?: number, critical = true): ExtensionSpec {
  return { oid: OIDS.BASIC_CONSTRAINTS, critical, value: seq(...(ca ? [bool(true)] : []), ...(pathLen !== undefined ? [int(pathLen)] : [])) };
}

export const KU = { DIGITAL_SIGNATURE: 0, KEY_CERT_SIGN: 5, CRL_SIGN: 6 } as const;

export const ARK_EXTENSIONS: readonly ExtensionSpec[] = [keyUsage([KU.KEY_CERT_SIGN, KU.CRL_SIGN]), basicConstraints(true)];
export const ASK_EXTENSIONS: readonly ExtensionSpec[] = [basicConstraints(true, 0), keyUsage([KU.KEY_CERT_SIGN])];

export interface AmdLeafFields {
  readonly structVersion?: number;
  readonly productName?: string;
  readonly blSpl?: number;
  readonly teeSpl?: number;
  readonly snpSpl?: number;
  readonly ucodeSpl?: number;
  readonly fmcSpl?: number;
  readonly reservedSpls?: Readonly<Record<"spl4" | "spl5" | "spl6" | "spl7", number>>;
  readonly hwId?: Uint8Array;
  readonly cspId?: string;
}

/** The AMD extensions of a VCEK/VLEK, in AMD's order; undefined fields are left out. */
export function amdExtensions(f: AmdLeafFields): ExtensionSpec[] {
  const e = (suffix: string, value: Uint8Array): ExtensionSpec => ({ oid: `${OIDS.AMD}.${suffix}`, critical: false, value });
  const out: ExtensionSpec[] = [];
  if (f.structVersion !== undefined) out.push(e("1", int(f.structVersion)));
  if (f.productName !== undefined) out.push(e("2", ia5(f.productName)));
  if (f.fmcSpl !== undefined) out.push(e("3.9", int(f.fmcSpl)));
  if (f.blSpl !== undefined) out.push(e("3.1", int(f.blSpl)));
  if (f.teeSpl !== undefined) out.push(e("3.2", int(f.teeSpl)));
  const r = f.reservedSpls ?? { spl4: 0, spl5: 0, spl6: 0, spl7: 0 };
  out.push(e("3.4", int(r.spl4)), e("3.5", int(r.spl5)), e("3.6", int(r.spl6)), e("3.7", int(r.spl7)));
  if (f.snpSpl !== undefined) out.push(e("3.3", int(f.snpSpl)));
  if (f.ucodeSpl !== undefined) out.push(e("3.8", int(f.ucodeSpl)));
  if (f.hwId !== undefined) out.push(e("4", f.hwId));
  if (f.cspId !== undefined) out.push(e("5", ia5(f.cspId)));
  return out;
}

// ---- keys ----------------------------------------------------------------------------

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function rsaKeyPair(bits = 2048): KeyPair {
  return generateKeyPairSync("rsa", { modulusLength: bits });
}

export function p384KeyPair(): KeyPair {
  return generateKeyPairSync("ec", { namedCurve: "secp384r1" });
}

export interface TestKeys {
  readonly ark: KeyPair;
  readonly ask: KeyPair;
  readonly asvk: KeyPair;
  /** A second, unrelated root (for "untrusted root" / "wrong signer" cases). */
  readonly otherArk: KeyPair;
  readonly vcek: KeyPair;
  readonly vlek: KeyPair;
  /** Not a P-384 key (for key-type cases). */
  readonly p256: KeyPair;
}

let keys: TestKeys | undefined;

/** Keys made once per process (RSA generation is the slow part of these tests). */
export function testKeys(): TestKeys {
  keys ??= {
    ark: rsaKeyPair(),
    ask: rsaKeyPair(),
    asvk: rsaKeyPair(),
    otherArk: rsaKeyPair(),
    vcek: p384KeyPair(),
    vlek: p384KeyPair(),
    p256: generateKeyPairSync("ec", { namedCurve: "prime256v1" }),
  };
  return keys;
}
