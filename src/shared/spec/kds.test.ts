import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate as NodeX509, createHash } from "node:crypto";
// @peculiar/x509 needs a reflect-metadata polyfill (not installed); its ASN.1 layer does not.
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { DecodeError, toHex } from "../base/index.js";
import {
  AMD_DN_PREFIX,
  CERT_TABLE_ENTRY,
  CERT_TABLE_GUID,
  KDS_EXTENSIONS,
  KDS_OID,
  SNP_PRODUCT_SPECS,
  amdDnString,
  guidFromBytes,
  guidToBytes,
  kdsCertChainUrl,
  kdsVcekUrl,
  parseCertTable,
  productFromName,
  serializeCertTable,
} from "./kds.js";
import { readVector, readVectorText } from "./testing/vectors.js";

test("AMD OIDs match SNP.md §2.2", () => {
  const hand: Record<string, string> = {
    STRUCT_VERSION: "1.3.6.1.4.1.3704.1.1", PRODUCT_NAME: "1.3.6.1.4.1.3704.1.2", BL_SPL: "1.3.6.1.4.1.3704.1.3.1",
    TEE_SPL: "1.3.6.1.4.1.3704.1.3.2", SNP_SPL: "1.3.6.1.4.1.3704.1.3.3", SPL_4: "1.3.6.1.4.1.3704.1.3.4",
    SPL_5: "1.3.6.1.4.1.3704.1.3.5", SPL_6: "1.3.6.1.4.1.3704.1.3.6", SPL_7: "1.3.6.1.4.1.3704.1.3.7",
    UCODE_SPL: "1.3.6.1.4.1.3704.1.3.8", FMC_SPL: "1.3.6.1.4.1.3704.1.3.9", HW_ID: "1.3.6.1.4.1.3704.1.4",
    CSP_ID: "1.3.6.1.4.1.3704.1.5",
  };
  assert.deepEqual({ ...KDS_OID }, hand);
  assert.equal(KDS_EXTENSIONS.length, Object.keys(hand).length);
});

function amdExtensions(der: Uint8Array): Map<string, Uint8Array> {
  const c = AsnConvert.parse(der, Certificate);
  const amd = (c.tbsCertificate.extensions ?? []).filter((e) => e.extnID.startsWith("1.3.6.1.4.1.3704.1."));
  return new Map(amd.map((e) => [e.extnID, new Uint8Array(e.extnValue.buffer)]));
}

const CERTS = [
  { file: "go-sev-guest/vcek.testcer", product: "milan", kind: "vcek", name: "Milan-B0" },
  { file: "virtee-sev/vcek_milan.der", product: "milan", kind: "vcek", name: "Milan-B0" },
  { file: "trustee/test-vlek.der", product: "milan", kind: "vlek", name: "Milan" },
  { file: "trustee/e2e_vcek_genoa.der", product: "genoa", kind: "vcek", name: "Genoa" },
  { file: "virtee-sev/vcek_turin.der", product: "turin", kind: "vcek", name: "Turin" },
] as const;

for (const c of CERTS) {
  test(`extensions of the real ${c.file} agree with the product table`, () => {
    const ext = amdExtensions(readVector(c.file));
    const spec = SNP_PRODUCT_SPECS[c.product];
    const known = new Set(KDS_EXTENSIONS.map((e) => e.oid as string));
    for (const oid of ext.keys()) assert.ok(known.has(oid), `unknown AMD OID ${oid}`);
    // structVersion: INTEGER
    assert.equal(toHex(ext.get(KDS_OID.STRUCT_VERSION)!), "0201" + spec.structVersion.toString(16).padStart(2, "0"));
    // productName: IA5String
    const pn = ext.get(KDS_OID.PRODUCT_NAME)!;
    assert.equal(pn[0], 0x16);
    const name = Buffer.from(pn.subarray(2)).toString("ascii");
    assert.equal(name, c.name);
    assert.equal(productFromName(name), c.product);
    assert.equal(ext.has(KDS_OID.FMC_SPL), spec.hasFmcSpl);
    if (c.kind === "vcek") {
      assert.equal(ext.get(KDS_OID.HW_ID)!.length, spec.hwIdSize);
      assert.equal(ext.has(KDS_OID.CSP_ID), false);
    } else {
      assert.equal(ext.has(KDS_OID.HW_ID), false);
      assert.equal(ext.get(KDS_OID.CSP_ID)![0], 0x16);
    }
    const subject = new NodeX509(Buffer.from(readVector(c.file))).subject.split("\n");
    assert.deepEqual(subject, [...AMD_DN_PREFIX.map(([k, v]) => `${k}=${v}`), `CN=${c.kind === "vcek" ? "SEV-VCEK" : "SEV-VLEK"}`]);
  });
}

test("ARK/ASK names and ARK fingerprints of the built-in roots (SNP.md §2.1)", () => {
  // Hand-copied from SNP.md §2.1.
  const hand = {
    milan: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    genoa: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    turin: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
  };
  for (const p of ["milan", "genoa", "turin"] as const) {
    const spec = SNP_PRODUCT_SPECS[p];
    assert.equal(spec.arkSha256, hand[p]);
    const ark = new NodeX509(readVectorText(`amd-trust/${p}_ark.pem`));
    const ask = new NodeX509(readVectorText(`amd-trust/${p}_ask.pem`));
    assert.equal(createHash("sha256").update(ark.raw).digest("hex"), spec.arkSha256);
    assert.ok(ark.subject.endsWith(`CN=${spec.arkCn}`));
    assert.ok(ask.subject.endsWith(`CN=${spec.askCn}`));
    assert.ok(ask.issuer.endsWith(`CN=${spec.arkCn}`));
    assert.equal(amdDnString(spec.askCn), ask.subject.split("\n").join(", "));
  }
  // The trustee bundles hold ASK, ARK, ASVK.
  const bundle = readVectorText("trustee/milan_ask_ark_asvk.pem").split(/(?=-----BEGIN CERTIFICATE-----)/).map((p) => new NodeX509(p));
  assert.ok(bundle.some((c) => c.subject.endsWith(`CN=${SNP_PRODUCT_SPECS.milan.asvkCn}`)));
});

test("productFromName accepts bare and stepping-suffixed names only", () => {
  assert.equal(productFromName("Milan"), "milan");
  assert.equal(productFromName("Milan-B1"), "milan");
  assert.equal(productFromName("Genoa"), "genoa");
  for (const bad of ["milan", "Milan-", "Milan-B10", "Bergamo", "Turin ", ""]) assert.equal(productFromName(bad), undefined, bad);
});

test("KDS URLs (SNP.md §2.4)", () => {
  const hw = new Uint8Array(64).fill(0xab);
  assert.equal(
    kdsVcekUrl("milan", hw, { bootloader: 3, tee: 0, snp: 8, microcode: 115 }),
    `https://kdsintf.amd.com/vcek/v1/Milan/${"ab".repeat(64)}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
  );
  assert.equal(
    kdsVcekUrl("turin", hw, { bootloader: 1, tee: 2, snp: 3, microcode: 4, fmc: 5 }),
    `https://kdsintf.amd.com/vcek/v1/Turin/${"ab".repeat(8)}?fmcSPL=5&blSPL=1&teeSPL=2&snpSPL=3&ucodeSPL=4`,
  );
  assert.equal(kdsCertChainUrl("genoa", "vlek"), "https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain");
});

test("certificate table: GUIDs, 24-byte entries, terminator, bounds", () => {
  assert.deepEqual({ ...CERT_TABLE_GUID }, {
    VCEK: "63da758d-e664-4564-adc5-f4b93be8accd", VLEK: "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
    ASK: "4ab7b379-bbac-4fe4-a02f-05aef327c782", ARK: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
  });
  assert.deepEqual([CERT_TABLE_ENTRY.size, CERT_TABLE_ENTRY.field("offset").offset, CERT_TABLE_ENTRY.field("length").offset], [24, 16, 20]);
  assert.equal(toHex(guidToBytes(CERT_TABLE_GUID.VCEK)), "63da758de6644564adc5f4b93be8accd");
  assert.equal(guidFromBytes(guidToBytes(CERT_TABLE_GUID.ARK)), CERT_TABLE_GUID.ARK);
  const vcek = readVector("virtee-sev/vcek_milan.der");
  const buf = serializeCertTable([
    { guid: CERT_TABLE_GUID.VCEK, data: vcek },
    { guid: CERT_TABLE_GUID.ASK, data: new Uint8Array([1, 2, 3]) },
    { guid: "00112233-4455-6677-8899-aabbccddeeff", data: new Uint8Array([9]) },
  ]);
  const t = parseCertTable(buf);
  assert.deepEqual(t.map((e) => [e.name, e.offset, e.length]), [["vcek", 96, vcek.length], ["ask", 96 + vcek.length, 3], [undefined, 99 + vcek.length, 1]]);
  assert.deepEqual(t[0]!.data, vcek);
  assert.deepEqual(parseCertTable(new Uint8Array(0)), []);
  assert.throws(() => parseCertTable(buf.subarray(0, 50)), (e: unknown) => e instanceof DecodeError && e.code === "CERT_TABLE_UNTERMINATED");
  const bad = buf.slice();
  bad[16] = 8; // VCEK offset 8: inside the table
  assert.throws(() => parseCertTable(bad), { code: "CERT_TABLE_BAD_ENTRY" });
  assert.throws(() => parseCertTable(buf.subarray(0, buf.length - 1)), { code: "CERT_TABLE_BAD_ENTRY" });
});
