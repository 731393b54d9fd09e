import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../base/index.js";
import { acceptedBy, checkAllParsers, onlyDecodeErrors, seedInputs } from "./testing/parser-fuzz.js";

test("spec parsers throw only DecodeError (small budget; the long run is spec-parsers.fuzz.test.ts)", () => {
  checkAllParsers(25);
});

test("each seed is accepted by the parser it was built for", () => {
  const want: Record<string, string> = {
    "report:": "parseAttestationReport",
    "rsp:": "parseMsgReportRsp",
    "der:": "derToSignatureField",
    "guest-message-page": "parseGuestMessage",
    "guest-message-header": "parseGuestMessageHeader",
    "report-req": "parseMsgReportReq",
    "id-block": "parseIdBlock",
    "ecdsa-key": "parseEcdsaPublicKeyStruct",
    "id-auth": "parseIdAuth",
    "cert-table": "parseCertTable",
  };
  for (const s of seedInputs()) {
    const key = Object.keys(want).find((k) => s.name.startsWith(k));
    assert.ok(key, s.name);
    assert.ok(acceptedBy(s.bytes).includes(want[key]!), `${s.name} accepted by ${want[key]!}`);
  }
});

test("the harness lets DecodeError through and rethrows anything else", () => {
  const input = new Uint8Array(3);
  assert.doesNotThrow(() => onlyDecodeErrors("p", input, () => {
    throw new DecodeError("X", "x");
  }));
  assert.throws(() => onlyDecodeErrors("p", input, () => {
    throw new TypeError("boom");
  }), /p threw a non-DecodeError on 3 bytes/);
  assert.throws(() => onlyDecodeErrors("p", input, () => assert.fail("round-trip")), /non-DecodeError/);
});
