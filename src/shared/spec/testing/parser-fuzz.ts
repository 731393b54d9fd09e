/**
 * Property checks shared by spec-parsers.test.ts (small budget) and spec-parsers.fuzz.test.ts
 * (`npm run fuzz` budget): every decoder of untrusted bytes in src/shared/spec throws only
 * DecodeError (or a subclass), and whatever the strict parsers accept re-serializes to the
 * same bytes. Inputs: random bytes (random and exact lengths) and single-byte mutations /
 * truncations of real reports, guest-message pages and MSG_REPORT_RSP.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, bytesEqual } from "../../base/index.js";
import { parseAttestationReport, serializeAttestationReport, signedRegion } from "../attestation-report.js";
import { derToSignatureField, signatureToDer, signatureToRS } from "../ecdsa-signature.js";
import {
  GUEST_MSG_HEADER,
  SNP_MSG_TYPE,
  parseGuestMessage,
  parseGuestMessageHeader,
  serializeGuestMessageHeader,
} from "../guest-message.js";
import { MSG_REPORT_REQ, MSG_REPORT_RSP, parseMsgReportReq, parseMsgReportRsp } from "../msg-report.js";
import { ID_AUTH, ID_BLOCK, ecdsaPublicKeyStruct, parseEcdsaPublicKeyStruct, parseIdAuth, parseIdBlock } from "../id-block.js";
import { parseCertTable, serializeCertTable, CERT_TABLE_GUID } from "../kds.js";
import { SECRETS_PAGE } from "../secrets-page.js";
import { GHCB } from "../ghcb.js";
import { PAGE_INFO } from "../page-info.js";
import {
  decodeCpuidReq,
  decodeCpuidResp,
  decodeHvFeaturesResp,
  decodePscReq,
  decodePscResp,
  decodeRegisterGhcbReq,
  decodeRegisterGhcbResp,
  decodeRunVmplReq,
  decodeRunVmplResp,
  decodeSevInfoResp,
  decodeTerminateReq,
} from "../ghcb-msr.js";
import { REAL_REPORTS, readVector } from "./vectors.js";

/** Runs `f`; rethrows anything that is not a DecodeError (with the input size for the report). */
export function onlyDecodeErrors(name: string, input: Uint8Array, f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) {
      throw new Error(`${name} threw a non-DecodeError on ${input.length} bytes: ${String(e)}`, { cause: e });
    }
  }
}

/** Every byte parser, with its round-trip check when it accepts the input. */
export const BYTE_PARSERS: readonly { name: string; run: (b: Uint8Array) => void }[] = [
  {
    name: "parseAttestationReport",
    run: (b) => {
      const r = parseAttestationReport(b);
      assert.ok(bytesEqual(serializeAttestationReport(r), b), "accepted report round-trips");
      signatureToDer(r.signature);
    },
  },
  { name: "signedRegion", run: (b) => void signedRegion(b) },
  { name: "signatureToRS", run: (b) => void signatureToRS(b.subarray(0, Math.min(b.length, 0x200))) },
  {
    name: "derToSignatureField",
    run: (b) => {
      const f = derToSignatureField(b);
      assert.ok(bytesEqual(signatureToDer(f), b), "accepted DER round-trips");
    },
  },
  {
    name: "parseGuestMessageHeader",
    run: (b) => {
      const h = parseGuestMessageHeader(b);
      assert.ok(bytesEqual(GUEST_MSG_HEADER.serialize(h), b.subarray(0, 0x60)), "accepted header round-trips");
    },
  },
  { name: "parseGuestMessage", run: (b) => void parseGuestMessage(b) },
  { name: "parseMsgReportReq", run: (b) => void parseMsgReportReq(b) },
  {
    name: "parseMsgReportRsp",
    run: (b) => {
      const r = parseMsgReportRsp(b);
      assert.ok(bytesEqual(MSG_REPORT_RSP.serialize(r), b), "accepted response round-trips");
      parseAttestationReport(r.report);
    },
  },
  { name: "parseIdBlock", run: (b) => void parseIdBlock(b) },
  { name: "parseIdAuth", run: (b) => void parseIdAuth(b) },
  { name: "parseEcdsaPublicKeyStruct", run: (b) => void parseEcdsaPublicKeyStruct(b) },
  { name: "parseCertTable", run: (b) => void parseCertTable(b) },
  { name: "SECRETS_PAGE.parse", run: (b) => void SECRETS_PAGE.parse(b) },
  { name: "GHCB.parse", run: (b) => void GHCB.parse(b) },
  { name: "PAGE_INFO.parse", run: (b) => void PAGE_INFO.parse(b) },
];

export const MSR_DECODERS: readonly { name: string; run: (v: bigint) => void }[] = [
  { name: "decodeSevInfoResp", run: (v) => void decodeSevInfoResp(v) },
  { name: "decodeCpuidReq", run: (v) => void decodeCpuidReq(v) },
  { name: "decodeCpuidResp", run: (v) => void decodeCpuidResp(v) },
  { name: "decodeRegisterGhcbReq", run: (v) => void decodeRegisterGhcbReq(v) },
  { name: "decodeRegisterGhcbResp", run: (v) => void decodeRegisterGhcbResp(v) },
  { name: "decodePscReq", run: (v) => void decodePscReq(v) },
  { name: "decodePscResp", run: (v) => void decodePscResp(v) },
  { name: "decodeRunVmplReq", run: (v) => void decodeRunVmplReq(v) },
  { name: "decodeRunVmplResp", run: (v) => void decodeRunVmplResp(v) },
  { name: "decodeHvFeaturesResp", run: (v) => void decodeHvFeaturesResp(v) },
  { name: "decodeTerminateReq", run: (v) => void decodeTerminateReq(v) },
];

/** Valid inputs to mutate: real reports and messages built around them. */
export function seedInputs(): { name: string; bytes: Uint8Array }[] {
  const seeds: { name: string; bytes: Uint8Array }[] = [];
  for (const v of REAL_REPORTS) {
    const report = readVector(v.report);
    seeds.push({ name: `report:${v.name}`, bytes: report });
    seeds.push({ name: `rsp:${v.name}`, bytes: MSG_REPORT_RSP.serialize({ status: 0, reportSize: 0x4a0, report }) });
    seeds.push({ name: `der:${v.name}`, bytes: signatureToDer(parseAttestationReport(report).signature) });
  }
  const page = new Uint8Array(4096);
  serializeGuestMessageHeader({ msgSeqno: 5n, msgType: SNP_MSG_TYPE.REPORT_RSP, msgSz: 0x4c0, msgVmpck: 0 }, page);
  page.set(MSG_REPORT_RSP.serialize({ status: 0, reportSize: 0x4a0, report: readVector(REAL_REPORTS[0].report) }), 0x60);
  seeds.push({ name: "guest-message-page", bytes: page });
  seeds.push({ name: "guest-message-header", bytes: page.slice(0, 0x60) });
  seeds.push({ name: "report-req", bytes: MSG_REPORT_REQ.serialize({ reportData: new Uint8Array(64).fill(1), vmpl: 1, keySel: 1 }) });
  seeds.push({ name: "id-block", bytes: ID_BLOCK.serialize({ ld: new Uint8Array(48).fill(3), version: 1, policy: 0x30000n }) });
  const key = ecdsaPublicKeyStruct({ x: 12345n, y: 67890n });
  seeds.push({ name: "ecdsa-key", bytes: key });
  seeds.push({ name: "id-auth", bytes: ID_AUTH.serialize({ idKeyAlgo: 1, authKeyAlgo: 1, idKey: key, authorKey: key }) });
  seeds.push({ name: "cert-table", bytes: serializeCertTable([{ guid: CERT_TABLE_GUID.VCEK, data: new Uint8Array(40).fill(7) }]) });
  return seeds;
}

/** Names of the parsers that accept `b` (and round-trip it). */
export function acceptedBy(b: Uint8Array): string[] {
  const ok: string[] = [];
  for (const p of BYTE_PARSERS) {
    try {
      p.run(b);
      ok.push(p.name);
    } catch {
      // rejected
    }
  }
  return ok;
}

/** Feeds `b` to every byte parser. */
export function feedAll(b: Uint8Array): void {
  for (const p of BYTE_PARSERS) onlyDecodeErrors(p.name, b, () => p.run(b));
}

const EXACT_SIZES = [0, 1, 0x20, 0x48, 0x60, 0x70, 0x90, 0x200, 0x404, 0x4a0, 0x4c0, 0x1000];

/** Random bytes: arbitrary lengths, and the exact sizes the parsers want. */
export function randomBytesArb(): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 0x1100 }),
    fc.constantFrom(...EXACT_SIZES).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  );
}

/** A seed with one byte replaced, or truncated / extended by a few bytes. */
export function mutationArb(seeds: readonly { bytes: Uint8Array }[]): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds.map((s) => s.bytes));
  const oneByte = fc.tuple(seed, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, i, v]) => {
    const b = s.slice();
    b[i % b.length] = v;
    return b;
  });
  const resize = fc.tuple(seed, fc.integer({ min: -8, max: 8 })).map(([s, d]) => {
    if (d <= 0) return s.slice(0, Math.max(0, s.length + d));
    const b = new Uint8Array(s.length + d);
    b.set(s);
    return b;
  });
  return fc.oneof({ arbitrary: oneByte, weight: 4 }, { arbitrary: resize, weight: 1 });
}

/** Runs all properties with `numRuns` each. */
export function checkAllParsers(numRuns: number): void {
  const seeds = seedInputs();
  // Every seed is a valid input of some parser, so mutations start from accepted bytes.
  for (const s of seeds) assert.notDeepEqual(acceptedBy(s.bytes), [], `seed ${s.name} is accepted`);
  fc.assert(fc.property(randomBytesArb(), (b) => feedAll(b)), { numRuns });
  fc.assert(fc.property(mutationArb(seeds), (b) => feedAll(b)), { numRuns });
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
      for (const d of MSR_DECODERS) onlyDecodeErrors(d.name, new Uint8Array(0), () => d.run(v));
    }),
    { numRuns },
  );
}
