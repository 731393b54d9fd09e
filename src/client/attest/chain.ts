/**
 * The certificate chain: ARK (self-signed, trusted) → ASK → VCEK, or ARK → ASVK → VLEK
 * (SNP.md §2.1, §2.3 steps 1–3). Every certificate is checked for AMD's profile
 * (signature algorithm exactly RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48, CA flags,
 * key types) and for its validity period at the injected clock's time.
 *
 * Which certificates are used:
 * - ASK/ASVK: from the chain file when one is given (the non-self-signed certificate
 *   whose subject is the leaf's issuer, else the first non-self-signed one), otherwise
 *   the built-in one of the product.
 * - ARK: a self-signed certificate of the chain file — which must be byte-identical to a
 *   trusted root — or, when the chain file has none, the trusted root whose subject is
 *   the ASK's issuer (preferring one whose key verifies the ASK). Trusted roots are the
 *   product's built-in ARK and the caller's explicit `trustRoots`, nothing else.
 */
import { bytesEqual } from "../../shared/base/index.js";
import { commonName, findExtension, OID, publicKeyOf, type Certificate } from "./certificate.js";
import { DerReader, parseDer, readBitString, readBoolean, TAG } from "./der.js";
import { AttestError, type VerifyErrorCode } from "./errors.js";
import type { CheckList } from "./checks.js";
import { checkAmdPssAlgorithm, verifyAmdPss } from "./signature-algorithm.js";
import { anchorsFor, builtinChain, type AnchorSource } from "./trust-store.js";
import type { SnpProduct } from "./product.js";
import { AMD_OID } from "./kds-oids.js";

export type KeyKind = "vcek" | "vlek";
export type CertRole = "ARK" | "ASK" | "ASVK" | "VCEK" | "VLEK";

export interface ChainInput {
  readonly leaf: Certificate;
  readonly keyKind: KeyKind;
  /** undefined when the product is unknown (then only a chain file and explicit roots can help). */
  readonly product: SnpProduct | undefined;
  /** Parsed certificates of the chain file, if one was given. */
  readonly chain: readonly Certificate[] | undefined;
  readonly trustRoots: readonly Certificate[];
  readonly now: number;
}

export interface ChainOutcome {
  readonly intermediate: Certificate | undefined;
  readonly ark: Certificate | undefined;
  /** Where the trusted ARK came from, when it is trusted. */
  readonly arkSource: AnchorSource | undefined;
  readonly intermediateSource: "chain" | "builtin" | undefined;
}

const KNOWN_CRITICAL: ReadonlySet<string> = new Set([OID.BASIC_CONSTRAINTS, OID.KEY_USAGE]);

/** keyUsage bits (RFC 5280 §4.2.1.3) as positions in the BIT STRING. */
const KU_DIGITAL_SIGNATURE = 0;
const KU_KEY_CERT_SIGN = 5;

const isSelfIssued = (c: Certificate): boolean => bytesEqual(c.subjectRaw, c.issuerRaw);

export function verifyChain(list: CheckList, input: ChainInput): ChainOutcome {
  const { leaf, keyKind, product } = input;
  const leafRole: CertRole = keyKind === "vcek" ? "VCEK" : "VLEK";
  const midRole: CertRole = keyKind === "vcek" ? "ASK" : "ASVK";
  const mid = leafRole.toLowerCase();
  const midId = midRole.toLowerCase();

  // --- pick the intermediate -------------------------------------------------------
  let intermediate: Certificate | undefined;
  let intermediateSource: ChainOutcome["intermediateSource"];
  if (input.chain) {
    const cands = input.chain.filter((c) => !isSelfIssued(c));
    intermediate = cands.find((c) => bytesEqual(c.subjectRaw, leaf.issuerRaw)) ?? cands[0];
    intermediateSource = intermediate ? "chain" : undefined;
  }
  if (!intermediate && product !== undefined) {
    const b = builtinChain(product);
    intermediate = keyKind === "vcek" ? b.ask : b.asvk;
    intermediateSource = "builtin";
  }
  if (!intermediate) {
    list.fail(
      `chain.${midId}`,
      `${midRole} available`,
      new AttestError("CHAIN_INCOMPLETE", `no ${midRole} to verify the ${leafRole} with (no chain file entry, no built-in for an unknown product)`, {
        role: midRole,
      }),
    );
  } else {
    list.pass(`chain.${midId}`, `${midRole} available (${intermediateSource}: ${commonName(intermediate.subject) ?? "?"})`);
  }

  // --- pick and trust the ARK ------------------------------------------------------
  const anchors = anchorsFor(product, input.trustRoots);
  const trustedFp = new Map(anchors.map((a) => [a.cert.fingerprint, a.source] as const));
  let ark: Certificate | undefined;
  let arkSource: AnchorSource | undefined;
  const chainRoots = input.chain?.filter(isSelfIssued) ?? [];
  if (chainRoots.length > 0) {
    ark = chainRoots.find((c) => trustedFp.has(c.fingerprint)) ?? chainRoots[0]!;
    arkSource = trustedFp.get(ark.fingerprint);
  } else {
    const byName = anchors.filter((a) => intermediate === undefined || bytesEqual(a.cert.subjectRaw, intermediate.issuerRaw));
    const pick =
      byName.find((a) => intermediate !== undefined && signedBy(intermediate, a.cert)) ?? byName[0] ?? (intermediate ? undefined : anchors[0]);
    ark = pick?.cert;
    arkSource = pick?.source;
  }
  const arkTitle = "ARK is a trusted root";
  if (ark && arkSource) {
    list.pass("chain.ark-trusted", `${arkTitle} (${arkSource}: ${commonName(ark.subject) ?? "?"}, sha256 ${ark.fingerprint.slice(0, 16)}…)`);
  } else {
    list.fail(
      "chain.ark-trusted",
      arkTitle,
      new AttestError(
        "ARK_NOT_TRUSTED",
        ark
          ? `ARK "${commonName(ark.subject) ?? "?"}" (sha256 ${ark.fingerprint}) is not AMD's ARK for ${product ?? "this product"} nor a root passed explicitly`
          : `no trusted root issued the ${midRole}`,
        { role: "ARK", ...(ark ? { fingerprint: ark.fingerprint, subject: commonName(ark.subject) } : {}), product },
      ),
    );
  }

  // --- the ARK itself --------------------------------------------------------------
  if (ark) {
    checkAlgorithm(list, "ark", "ARK", ark);
    const alg = checkAmdPssAlgorithm(ark.signatureAlgorithm) === undefined;
    const selfOk = isSelfIssued(ark) && signedBy(ark, ark);
    if (!alg) list.skip("ark.self-signed", "ARK is self-signed", "signature algorithm is not AMD's");
    else
      list.record(
        "ark.self-signed",
        "ARK is self-signed",
        selfOk ? undefined : new AttestError("ARK_NOT_SELF_SIGNED", "the ARK's signature does not verify with its own key", { role: "ARK" }),
      );
    checkRsaKey(list, "ark", "ARK", ark);
    checkCa(list, "ark", "ARK", ark);
    checkValidity(list, "ark", "ARK", ark, input.now);
  } else {
    for (const id of ["ark.algorithm", "ark.self-signed", "ark.key", "ark.ca", "ark.validity"]) list.skip(id, id, "no ARK");
  }

  // --- the ASK / ASVK --------------------------------------------------------------
  if (intermediate) {
    checkAlgorithm(list, midId, midRole, intermediate);
    const title = `${midRole} is signed by the ARK`;
    if (!ark) list.skip(`${midId}.signed-by-ark`, title, "no ARK");
    else if (checkAmdPssAlgorithm(intermediate.signatureAlgorithm) !== undefined) {
      list.skip(`${midId}.signed-by-ark`, title, "signature algorithm is not AMD's");
    } else {
      const code: VerifyErrorCode = keyKind === "vcek" ? "CHAIN_ASK_NOT_SIGNED_BY_ARK" : "CHAIN_ASVK_NOT_SIGNED_BY_ARK";
      list.record(`${midId}.signed-by-ark`, title, signedByError(code, midRole, intermediate, "ARK", ark));
    }
    checkRsaKey(list, midId, midRole, intermediate);
    checkCa(list, midId, midRole, intermediate);
    checkValidity(list, midId, midRole, intermediate, input.now);
  } else {
    for (const s of ["algorithm", "signed-by-ark", "key", "ca", "validity"]) list.skip(`${midId}.${s}`, `${midId}.${s}`, `no ${midRole}`);
  }

  // --- the VCEK / VLEK -------------------------------------------------------------
  checkAlgorithm(list, mid, leafRole, leaf);
  const leafTitle = `${leafRole} is signed by the ${midRole}`;
  if (!intermediate) list.skip(`${mid}.signed-by-${midId}`, leafTitle, `no ${midRole}`);
  else if (checkAmdPssAlgorithm(leaf.signatureAlgorithm) !== undefined) {
    list.skip(`${mid}.signed-by-${midId}`, leafTitle, "signature algorithm is not AMD's");
  } else {
    const code: VerifyErrorCode = keyKind === "vcek" ? "VCEK_NOT_SIGNED_BY_ASK" : "VLEK_NOT_SIGNED_BY_ASVK";
    list.record(`${mid}.signed-by-${midId}`, leafTitle, signedByError(code, leafRole, leaf, midRole, intermediate));
  }
  checkLeafProfile(list, mid, leafRole, leaf);
  checkValidity(list, mid, leafRole, leaf, input.now);

  return { intermediate, ark, arkSource, intermediateSource };
}

function signedBy(child: Certificate, issuer: Certificate): boolean {
  try {
    return verifyAmdPss(publicKeyOf(issuer), child.tbs, child.signature);
  } catch {
    return false;
  }
}

function signedByError(
  code: VerifyErrorCode,
  childRole: CertRole,
  child: Certificate,
  issuerRole: CertRole,
  issuer: Certificate,
): AttestError | undefined {
  const details = { role: childRole, issuerRole, issuer: commonName(issuer.subject), childIssuer: commonName(child.issuer) };
  if (!signedBy(child, issuer)) {
    return new AttestError(code, `the ${childRole}'s signature does not verify with the ${issuerRole} "${details.issuer ?? "?"}"`, details);
  }
  if (!bytesEqual(child.issuerRaw, issuer.subjectRaw)) {
    return new AttestError(code, `the ${childRole}'s issuer "${details.childIssuer ?? "?"}" is not the ${issuerRole}'s subject`, details);
  }
  return undefined;
}

function checkAlgorithm(list: CheckList, id: string, role: CertRole, c: Certificate): void {
  let why = checkAmdPssAlgorithm(c.signatureAlgorithm);
  if (why === undefined && !bytesEqual(c.signatureAlgorithm, c.tbsSignatureAlgorithm)) {
    why = "tbsCertificate.signature differs from signatureAlgorithm";
  }
  list.record(
    `${id}.algorithm`,
    `${role} signature algorithm is RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48`,
    why === undefined ? undefined : new AttestError("WRONG_SIGNATURE_ALGORITHM", `${role}: ${why}`, { role, reason: why }),
  );
}

function checkRsaKey(list: CheckList, id: string, role: CertRole, c: Certificate): void {
  let err: AttestError | undefined;
  try {
    const k = publicKeyOf(c);
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    if (k.asymmetricKeyType !== "rsa" || c.publicKeyAlgorithm !== OID.RSA_ENCRYPTION || bits < 2048) {
      err = new AttestError("WRONG_KEY_TYPE", `${role} key is ${k.asymmetricKeyType ?? "?"} ${bits} bits, need RSA ≥ 2048 (AMD: 4096)`, {
        role,
        keyType: k.asymmetricKeyType,
        bits,
      });
    }
  } catch (e: unknown) {
    err = new AttestError("CERT_MALFORMED", `${role} public key: ${(e as Error).message}`, { role });
  }
  list.record(`${id}.key`, `${role} key is RSA`, err);
}

/** Leaf key: EC P-384. */
export function leafKeyError(role: CertRole, c: Certificate): AttestError | undefined {
  try {
    const k = publicKeyOf(c);
    const curve = k.asymmetricKeyDetails?.namedCurve;
    if (k.asymmetricKeyType !== "ec" || curve !== "secp384r1") {
      return new AttestError("WRONG_KEY_TYPE", `${role} key is ${k.asymmetricKeyType ?? "?"} ${curve ?? ""}, need EC P-384`, {
        role,
        keyType: k.asymmetricKeyType,
        curve,
      });
    }
    return undefined;
  } catch (e: unknown) {
    return new AttestError("CERT_MALFORMED", `${role} public key: ${(e as Error).message}`, { role });
  }
}

interface CaFlags {
  readonly basic: { critical: boolean; ca: boolean } | undefined;
  readonly keyUsage: { critical: boolean; bits: Set<number> } | undefined;
}

function caFlags(c: Certificate): CaFlags {
  let basic: CaFlags["basic"];
  let keyUsage: CaFlags["keyUsage"];
  const bc = findExtension(c, OID.BASIC_CONSTRAINTS);
  if (bc) {
    const r = DerReader.of(parseDer(bc.value, TAG.SEQUENCE, "basicConstraints"));
    const b = r.optional(TAG.BOOLEAN);
    const ca = b ? readBoolean(b) : false;
    r.optional(TAG.INTEGER);
    r.done("basicConstraints");
    basic = { critical: bc.critical, ca };
  }
  const ku = findExtension(c, OID.KEY_USAGE);
  if (ku) {
    const bs = readBitString(parseDer(ku.value, TAG.BIT_STRING, "keyUsage"));
    const bits = new Set<number>();
    bs.bytes.forEach((byte, i) => {
      for (let j = 0; j < 8; j++) if (byte & (0x80 >> j)) bits.add(i * 8 + j);
    });
    keyUsage = { critical: ku.critical, bits };
  }
  return { basic, keyUsage };
}

function unknownCritical(c: Certificate): string | undefined {
  return c.extensions.find((e) => e.critical && !KNOWN_CRITICAL.has(e.oid))?.oid;
}

function checkCa(list: CheckList, id: string, role: CertRole, c: Certificate): void {
  let flags: CaFlags;
  try {
    flags = caFlags(c);
  } catch (e: unknown) {
    list.fail(`${id}.ca`, `${role} is a CA`, new AttestError("CERT_MALFORMED", `${role}: ${(e as Error).message}`, { role }));
    return;
  }
  let err: AttestError | undefined;
  const unknown = unknownCritical(c);
  if (!flags.basic || !flags.basic.ca || !flags.basic.critical) {
    err = new AttestError("CERT_NOT_CA", `${role} lacks a critical basicConstraints with cA=TRUE`, { role });
  } else if (!flags.keyUsage || !flags.keyUsage.critical || !flags.keyUsage.bits.has(KU_KEY_CERT_SIGN)) {
    err = new AttestError("CERT_KEY_USAGE_INVALID", `${role} lacks a critical keyUsage with keyCertSign`, { role });
  } else if (unknown !== undefined) {
    err = new AttestError("CERT_UNKNOWN_CRITICAL_EXTENSION", `${role} has an unknown critical extension ${unknown}`, { role, oid: unknown });
  }
  list.record(`${id}.ca`, `${role} is a CA (basicConstraints, keyUsage keyCertSign)`, err);
}

function checkLeafProfile(list: CheckList, id: string, role: CertRole, c: Certificate): void {
  list.record(`${id}.key`, `${role} key is EC P-384`, leafKeyError(role, c));
  let err: AttestError | undefined;
  try {
    const flags = caFlags(c);
    const unknown = unknownCritical(c);
    if (flags.basic?.ca === true) err = new AttestError("LEAF_IS_CA", `${role} claims cA=TRUE`, { role });
    else if (flags.keyUsage && !flags.keyUsage.bits.has(KU_DIGITAL_SIGNATURE)) {
      err = new AttestError("CERT_KEY_USAGE_INVALID", `${role} keyUsage lacks digitalSignature`, { role });
    } else if (unknown !== undefined && !unknown.startsWith(AMD_OID.PREFIX + ".")) {
      err = new AttestError("CERT_UNKNOWN_CRITICAL_EXTENSION", `${role} has an unknown critical extension ${unknown}`, { role, oid: unknown });
    }
  } catch (e: unknown) {
    err = new AttestError("CERT_MALFORMED", `${role}: ${(e as Error).message}`, { role });
  }
  list.record(`${id}.profile`, `${role} is an end-entity certificate`, err);
}

function checkValidity(list: CheckList, id: string, role: CertRole, c: Certificate, now: number): void {
  const d = { role, notBefore: new Date(c.notBefore).toISOString(), notAfter: new Date(c.notAfter).toISOString(), at: new Date(now).toISOString() };
  let err: AttestError | undefined;
  if (now < c.notBefore) err = new AttestError("CERT_NOT_YET_VALID", `${role} is not valid before ${d.notBefore} (now ${d.at})`, d);
  else if (now > c.notAfter) err = new AttestError("CERT_EXPIRED", `${role} expired ${d.notAfter} (now ${d.at})`, d);
  list.record(`${id}.validity`, `${role} is within its validity period`, err);
}
