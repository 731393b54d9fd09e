/**
 * The AMD extensions of a VCEK/VLEK certificate (OID arc 1.3.6.1.4.1.3704.1) — SNP.md §2.2
 * (go-sev-guest `kds/kds.go`). Values sit inside the extnValue OCTET STRING: productName
 * and cspId as IA5String, the SPLs as DER INTEGERs (ucodeSPL 217 is `02 02 00 D9`), hwID
 * as raw bytes with no inner tag (64 bytes Milan/Genoa, 8 bytes Turin).
 */
import { DecodeError } from "../../shared/base/index.js";
import { parseDer, readSmallInteger, readString, TAG } from "./der.js";
import type { Certificate } from "./certificate.js";
import { AMD_OID } from "./kds-oids.js";

export interface AmdExtensions {
  readonly structVersion: number | undefined;
  readonly productName: string;
  readonly blSpl: number;
  readonly teeSpl: number;
  readonly snpSpl: number;
  readonly ucodeSpl: number;
  /** Turin and later. */
  readonly fmcSpl: number | undefined;
  /** spl4..spl7 (reserved; 0 when present), keyed by name. */
  readonly reservedSpls: Readonly<Record<string, number>>;
  /** VCEK only. */
  readonly hwId: Uint8Array | undefined;
  /** VLEK only. */
  readonly cspId: string | undefined;
}

export class AmdExtensionError extends DecodeError {
  constructor(message: string, details: Record<string, unknown>) {
    super("AMD_EXTENSION_INVALID", message, details);
  }
}

/** Reads the AMD extensions. Throws AmdExtensionError naming the extension. */
export function readAmdExtensions(cert: Certificate): AmdExtensions {
  const byOid = new Map(cert.extensions.map((e) => [e.oid, e]));
  const get = (oid: string): Uint8Array | undefined => byOid.get(oid)?.value;
  const int = (oid: string, name: string): number | undefined => {
    const v = get(oid);
    if (v === undefined) return undefined;
    try {
      const n = readSmallInteger(parseDer(v, TAG.INTEGER, name));
      if (n > 0xff) throw new AmdExtensionError(`${name} ${n} does not fit the one-byte SPL`, { extension: name, value: n });
      return n;
    } catch (e: unknown) {
      if (e instanceof AmdExtensionError) throw e;
      throw new AmdExtensionError(`${name} is not a DER INTEGER`, { extension: name, oid });
    }
  };
  const need = (oid: string, name: string): number => {
    const n = int(oid, name);
    if (n === undefined) throw new AmdExtensionError(`${name} extension missing`, { extension: name, oid });
    return n;
  };
  const ia5 = (oid: string, name: string): string | undefined => {
    const v = get(oid);
    if (v === undefined) return undefined;
    try {
      return readString(parseDer(v, TAG.IA5_STRING, name));
    } catch {
      throw new AmdExtensionError(`${name} is not an IA5String`, { extension: name, oid });
    }
  };

  for (const e of cert.extensions) {
    if (e.oid.startsWith(AMD_OID.PREFIX + ".") && e.critical) {
      throw new AmdExtensionError(`AMD extension ${e.oid} is marked critical`, { oid: e.oid });
    }
  }
  const productName = ia5(AMD_OID.PRODUCT_NAME, "productName");
  if (productName === undefined) throw new AmdExtensionError("productName extension missing", { extension: "productName" });
  const reservedSpls: Record<string, number> = {};
  for (const [name, oid] of Object.entries(AMD_OID.RESERVED_SPLS)) {
    const v = int(oid, name);
    if (v !== undefined) reservedSpls[name] = v;
  }
  const hw = get(AMD_OID.HW_ID);
  return {
    structVersion: int(AMD_OID.STRUCT_VERSION, "structVersion"),
    productName,
    blSpl: need(AMD_OID.BL_SPL, "blSPL"),
    teeSpl: need(AMD_OID.TEE_SPL, "teeSPL"),
    snpSpl: need(AMD_OID.SNP_SPL, "snpSPL"),
    ucodeSpl: need(AMD_OID.UCODE_SPL, "ucodeSPL"),
    fmcSpl: int(AMD_OID.FMC_SPL, "fmcSPL"),
    reservedSpls,
    hwId: hw === undefined ? undefined : new Uint8Array(hw),
    cspId: ia5(AMD_OID.CSP_ID, "cspId"),
  };
}
