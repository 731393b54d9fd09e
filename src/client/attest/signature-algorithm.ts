/**
 * AMD signs every certificate of the chain with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48,
 * trailer 1 (SNP.md §2.1). This checks an AlgorithmIdentifier is exactly that (hash and
 * MGF given explicitly, since the RFC 4055 defaults are SHA-1; the trailer may be absent
 * or an explicit 1 — AMD's ARKs encode it), and verifies such a signature with the
 * parameters fixed here rather than taken from the certificate.
 */
import { constants, verify, type KeyObject } from "node:crypto";
import { contents, ctx, DerReader, parseDer, readOid, readSmallInteger, TAG, type DerNode } from "./der.js";
import { OID } from "./certificate.js";

export const AMD_PSS = { hash: "sha384", saltLength: 48 } as const;

/** Why an AlgorithmIdentifier is not AMD's; undefined when it is. */
export function checkAmdPssAlgorithm(algId: Uint8Array): string | undefined {
  try {
    const r = DerReader.of(parseDer(algId, TAG.SEQUENCE, "AlgorithmIdentifier"));
    const oid = readOid(r.next(TAG.OID, "algorithm"));
    if (oid !== OID.RSASSA_PSS) return `algorithm ${oid} is not RSASSA-PSS (${OID.RSASSA_PSS})`;
    const params = r.next(TAG.SEQUENCE, "RSASSA-PSS-params");
    r.done("AlgorithmIdentifier");
    const p = DerReader.of(params);
    const hash = p.optional(ctx(0));
    if (!hash) return "hashAlgorithm absent (defaults to SHA-1)";
    const h = hashOid(explicit(hash));
    if (h !== OID.SHA384) return `hashAlgorithm ${h} is not SHA-384`;
    const mgf = p.optional(ctx(1));
    if (!mgf) return "maskGenAlgorithm absent (defaults to MGF1-SHA-1)";
    const m = DerReader.of(explicit(mgf));
    const mgfOid = readOid(m.next(TAG.OID, "mgf algorithm"));
    if (mgfOid !== OID.MGF1) return `maskGenAlgorithm ${mgfOid} is not MGF1`;
    const mh = hashOid(m.next(TAG.SEQUENCE, "MGF1 hash"));
    m.done("maskGenAlgorithm");
    if (mh !== OID.SHA384) return `MGF1 hash ${mh} is not SHA-384`;
    const salt = p.optional(ctx(2));
    if (!salt) return "saltLength absent (defaults to 20)";
    const s = readSmallInteger(explicit(salt));
    if (s !== AMD_PSS.saltLength) return `saltLength ${s} is not ${AMD_PSS.saltLength}`;
    const trailer = p.optional(ctx(3));
    if (trailer) {
      const tf = readSmallInteger(explicit(trailer));
      if (tf !== 1) return `trailerField ${tf} is not 1`;
    }
    p.done("RSASSA-PSS-params");
    return undefined;
  } catch (e: unknown) {
    return `malformed AlgorithmIdentifier: ${(e as Error).message}`;
  }
}

function explicit(n: DerNode): DerNode {
  const r = DerReader.of(n);
  const inner = r.next(undefined, "explicit value");
  r.done("explicit tag");
  return inner;
}

/** HashAlgorithm ::= SEQUENCE { OID, NULL OPTIONAL } → OID. */
function hashOid(n: DerNode): string {
  const r = DerReader.of(n);
  const oid = readOid(r.next(TAG.OID, "hash OID"));
  const nul = r.optional(TAG.NULL);
  if (nul && contents(nul).length !== 0) throw new Error("NULL with contents");
  r.done("hash AlgorithmIdentifier");
  return oid;
}

/** RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48 verification of `data`. Never throws. */
export function verifyAmdPss(issuerKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (issuerKey.asymmetricKeyType !== "rsa" && issuerKey.asymmetricKeyType !== "rsa-pss") return false;
  try {
    return verify(
      AMD_PSS.hash,
      data,
      { key: issuerKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: AMD_PSS.saltLength },
      signature,
    );
  } catch {
    return false;
  }
}
