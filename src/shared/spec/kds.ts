/**
 * AMD key distribution: certificate names, VCEK/VLEK X.509 extensions, KDS URLs and the
 * extended-guest-request certificate table — SNP.md §2.1 (keys, DN order, CNs, ARK
 * fingerprints), §2.2 (extensions, go-sev-guest `kds/kds.go`) and §2.4 (URLs, GUIDs).
 */
import { DecodeError, readU32 } from "../base/index.js";
import { bytes, defineLayout, u32 } from "./layout.js";
import type { SnpProduct, TcbComponent, TcbVersion } from "./tcb-version.js";

// ---- §2.2 VCEK/VLEK extensions -----------------------------------------------------------

export const AMD_OID_PREFIX = "1.3.6.1.4.1.3704.1";

export const KDS_OID = {
  STRUCT_VERSION: "1.3.6.1.4.1.3704.1.1",
  PRODUCT_NAME: "1.3.6.1.4.1.3704.1.2",
  BL_SPL: "1.3.6.1.4.1.3704.1.3.1",
  TEE_SPL: "1.3.6.1.4.1.3704.1.3.2",
  SNP_SPL: "1.3.6.1.4.1.3704.1.3.3",
  SPL_4: "1.3.6.1.4.1.3704.1.3.4",
  SPL_5: "1.3.6.1.4.1.3704.1.3.5",
  SPL_6: "1.3.6.1.4.1.3704.1.3.6",
  SPL_7: "1.3.6.1.4.1.3704.1.3.7",
  UCODE_SPL: "1.3.6.1.4.1.3704.1.3.8",
  FMC_SPL: "1.3.6.1.4.1.3704.1.3.9",
  HW_ID: "1.3.6.1.4.1.3704.1.4",
  CSP_ID: "1.3.6.1.4.1.3704.1.5",
} as const;
export type KdsOid = (typeof KDS_OID)[keyof typeof KDS_OID];

/** How the extnValue (inside the standard OCTET STRING wrapper) is encoded. */
export type KdsEncoding = "INTEGER" | "IA5String" | "raw";

export interface KdsExtensionSpec {
  readonly oid: KdsOid;
  readonly name: string;
  readonly encoding: KdsEncoding;
  /** The report value it must equal (SNP.md §2.3 step 5), if any. */
  readonly reportField?: TcbComponent | "chipId" | "product";
  readonly note?: string;
}

export const KDS_EXTENSIONS: readonly KdsExtensionSpec[] = [
  { oid: KDS_OID.STRUCT_VERSION, name: "structVersion", encoding: "INTEGER", note: "0 Milan/Genoa, 1 Turin" },
  { oid: KDS_OID.PRODUCT_NAME, name: "productName", encoding: "IA5String", reportField: "product", note: "Milan-B0 (old), Milan, Genoa, Turin" },
  { oid: KDS_OID.BL_SPL, name: "blSPL", encoding: "INTEGER", reportField: "bootloader" },
  { oid: KDS_OID.TEE_SPL, name: "teeSPL", encoding: "INTEGER", reportField: "tee" },
  { oid: KDS_OID.SNP_SPL, name: "snpSPL", encoding: "INTEGER", reportField: "snp" },
  { oid: KDS_OID.SPL_4, name: "spl4", encoding: "INTEGER", note: "reserved, 0 (absent on Turin)" },
  { oid: KDS_OID.SPL_5, name: "spl5", encoding: "INTEGER", note: "reserved, 0" },
  { oid: KDS_OID.SPL_6, name: "spl6", encoding: "INTEGER", note: "reserved, 0" },
  { oid: KDS_OID.SPL_7, name: "spl7", encoding: "INTEGER", note: "reserved, 0" },
  { oid: KDS_OID.UCODE_SPL, name: "ucodeSPL", encoding: "INTEGER", reportField: "microcode", note: "DER INTEGER: 217 is 02 02 00 D9" },
  { oid: KDS_OID.FMC_SPL, name: "fmcSPL", encoding: "INTEGER", reportField: "fmc", note: "Turin only" },
  { oid: KDS_OID.HW_ID, name: "hwID", encoding: "raw", reportField: "chipId", note: "raw bytes, no inner tag; VCEK only" },
  { oid: KDS_OID.CSP_ID, name: "cspId", encoding: "IA5String", note: "VLEK only" },
];

// ---- §2.1 products, names, fingerprints -----------------------------------------------

export interface ProductSpec {
  readonly product: SnpProduct;
  /** As written in KDS URLs and CNs. */
  readonly kdsName: "Milan" | "Genoa" | "Turin";
  /** Value of the structVersion extension. */
  readonly structVersion: number;
  /** hwID / used CHIP_ID length: 64 bytes, or 8 on Turin (CHIP_ID[0..8], rest zero). */
  readonly hwIdSize: 64 | 8;
  /** Whether the VCEK carries fmcSPL (and TCB_VERSION has an FMC byte). */
  readonly hasFmcSpl: boolean;
  readonly arkCn: string;
  readonly askCn: string;
  readonly asvkCn: string;
  /** SHA-256 of the ARK certificate DER (hex). */
  readonly arkSha256: string;
}

export const SNP_PRODUCT_SPECS: Readonly<Record<SnpProduct, ProductSpec>> = {
  milan: {
    product: "milan",
    kdsName: "Milan",
    structVersion: 0,
    hwIdSize: 64,
    hasFmcSpl: false,
    arkCn: "ARK-Milan",
    askCn: "SEV-Milan",
    asvkCn: "SEV-VLEK-Milan",
    arkSha256: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
  },
  genoa: {
    product: "genoa",
    kdsName: "Genoa",
    structVersion: 0,
    hwIdSize: 64,
    hasFmcSpl: false,
    arkCn: "ARK-Genoa",
    askCn: "SEV-Genoa",
    asvkCn: "SEV-VLEK-Genoa",
    arkSha256: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
  },
  turin: {
    product: "turin",
    kdsName: "Turin",
    structVersion: 1,
    hwIdSize: 8,
    hasFmcSpl: true,
    arkCn: "ARK-Turin",
    askCn: "SEV-Turin",
    asvkCn: "SEV-VLEK-Turin",
    arkSha256: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
  },
};

export const VCEK_CN = "SEV-VCEK";
export const VLEK_CN = "SEV-VLEK";

/**
 * The productName extension value → product. Accepts the bare name (`Milan`) and the
 * older stepping-suffixed form (`Milan-B0`): SNP.md §9 says accept both.
 */
export function productFromName(name: string): SnpProduct | undefined {
  const m = /^(Milan|Genoa|Turin)(-[A-Z][0-9])?$/.exec(name);
  if (m === null) return undefined;
  return m[1]!.toLowerCase() as SnpProduct;
}

/** Every AMD subject/issuer DN, in this order (the CN varies; SNP.md §2.1). */
export const AMD_DN_PREFIX: readonly (readonly [string, string])[] = [
  ["OU", "Engineering"],
  ["C", "US"],
  ["L", "Santa Clara"],
  ["ST", "CA"],
  ["O", "Advanced Micro Devices"],
];

/** The full AMD DN for a CN, as ordered [attribute, value] pairs. */
export function amdDn(cn: string): readonly (readonly [string, string])[] {
  return [...AMD_DN_PREFIX, ["CN", cn]];
}

/** The same DN as a comma-separated string in encoding order ("OU=Engineering, C=US, …, CN=…"). */
export function amdDnString(cn: string): string {
  return amdDn(cn)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

// ---- §2.4 KDS URLs (documentation only) -------------------------------------------------

export const KDS_BASE_URL = "https://kdsintf.amd.com";

/** VCEK download URL. `hwId` is the full 64-byte CHIP_ID; Turin uses its first 8 bytes. */
export function kdsVcekUrl(product: SnpProduct, hwId: Uint8Array, tcb: TcbVersion): string {
  const spec = SNP_PRODUCT_SPECS[product];
  if (hwId.length < spec.hwIdSize) throw new RangeError(`${spec.kdsName} hwID needs ${spec.hwIdSize} bytes`);
  const id = Buffer.from(hwId.subarray(0, spec.hwIdSize)).toString("hex");
  let q = `blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
  if (spec.hasFmcSpl) q = `fmcSPL=${tcb.fmc ?? 0}&${q}`;
  return `${KDS_BASE_URL}/vcek/v1/${spec.kdsName}/${id}?${q}`;
}

/** PEM chain: ASK then ARK (`vcek`), or ASVK then ARK (`vlek`). */
export function kdsCertChainUrl(product: SnpProduct, key: "vcek" | "vlek"): string {
  return `${KDS_BASE_URL}/${key}/v1/${SNP_PRODUCT_SPECS[product].kdsName}/cert_chain`;
}

export function kdsCrlUrl(product: SnpProduct): string {
  return `${KDS_BASE_URL}/vcek/v1/${SNP_PRODUCT_SPECS[product].kdsName}/crl`;
}

// ---- §2.4 certificate table of the extended guest request -------------------------------

/** GUIDs of the certificate table (GHCB spec 4.1.8.1). */
export const CERT_TABLE_GUID = {
  VCEK: "63da758d-e664-4564-adc5-f4b93be8accd",
  VLEK: "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
  ASK: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  ARK: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
} as const;
export type CertTableName = "vcek" | "vlek" | "ask" | "ark";

export const CERT_TABLE_ENTRY_SIZE = 24;
export const CERT_TABLE_ENTRY = defineLayout({
  name: "CERT_TABLE_ENTRY",
  size: CERT_TABLE_ENTRY_SIZE,
  source: "SNP.md §2.4; GHCB spec 4.1.8.1",
  fields: [bytes("guid", 0x00, 16), u32("offset", 0x10, "from the start of the buffer"), u32("length", 0x14)],
});

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** GUID text → 16 bytes, in the order the text reads (RFC 4122; as go-sev-guest and AMD's sev-tool). */
export function guidToBytes(guid: string): Uint8Array {
  const g = guid.toLowerCase();
  if (!GUID_RE.test(g)) throw new RangeError(`not a GUID: ${guid}`);
  return new Uint8Array(Buffer.from(g.replace(/-/g, ""), "hex"));
}

export function guidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError("a GUID is 16 bytes");
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const NAME_BY_GUID = new Map<string, CertTableName>([
  [CERT_TABLE_GUID.VCEK, "vcek"],
  [CERT_TABLE_GUID.VLEK, "vlek"],
  [CERT_TABLE_GUID.ASK, "ask"],
  [CERT_TABLE_GUID.ARK, "ark"],
]);

export interface CertTableEntry {
  readonly guid: string;
  /** Known GUIDs only. */
  readonly name?: CertTableName;
  readonly offset: number;
  readonly length: number;
  readonly data: Uint8Array;
}

/**
 * Parses a certificate buffer: entries up to the all-zero terminator, then checks that each
 * blob lies after the table and inside the buffer. An empty buffer is an empty table.
 * Throws DecodeError (`CERT_TABLE_*` codes).
 */
export function parseCertTable(buf: Uint8Array): CertTableEntry[] {
  if (buf.length === 0) return [];
  const raw: { guid: Uint8Array; offset: number; length: number }[] = [];
  let p = 0;
  for (;;) {
    if (p + CERT_TABLE_ENTRY_SIZE > buf.length) {
      throw new DecodeError("CERT_TABLE_UNTERMINATED", "certificate table has no all-zero terminator", { field: "certTable", offset: p });
    }
    const guid = buf.slice(p, p + 16);
    const offset = readU32(buf, p + 16);
    const length = readU32(buf, p + 20);
    p += CERT_TABLE_ENTRY_SIZE;
    if (offset === 0 && length === 0 && guid.every((x) => x === 0)) break;
    raw.push({ guid, offset, length });
  }
  return raw.map((e, i) => {
    if (e.offset < p || e.offset + e.length > buf.length) {
      throw new DecodeError("CERT_TABLE_BAD_ENTRY", `entry ${i}: [${e.offset}, +${e.length}) is outside the blob area [${p}, ${buf.length})`, {
        field: "certTable",
        index: i,
        offset: e.offset,
        length: e.length,
      });
    }
    const guid = guidFromBytes(e.guid);
    const name = NAME_BY_GUID.get(guid);
    const base = { guid, offset: e.offset, length: e.length, data: buf.slice(e.offset, e.offset + e.length) };
    return name === undefined ? base : { ...base, name };
  });
}

/** Builds a certificate buffer: the table, the terminator, then the blobs in order. */
export function serializeCertTable(entries: readonly { guid: string; data: Uint8Array }[]): Uint8Array {
  const tableEnd = (entries.length + 1) * CERT_TABLE_ENTRY_SIZE;
  const total = tableEnd + entries.reduce((n, e) => n + e.data.length, 0);
  const out = new Uint8Array(total);
  let blob = tableEnd;
  entries.forEach((e, i) => {
    CERT_TABLE_ENTRY.serialize({ guid: guidToBytes(e.guid), offset: blob, length: e.data.length }, out, i * CERT_TABLE_ENTRY_SIZE);
    out.set(e.data, blob);
    blob += e.data.length;
  });
  return out;
}
