import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ATTESTATION_LABEL, attestationReportData, BindingInputError, EXPORTER_LENGTH, v0ReportData } from "./attestation.js";

test("label bytes are exactly the documented 22 ASCII bytes", () => {
  assert.equal(Buffer.from(ATTESTATION_LABEL).toString("hex"), "303053455665 6e206174746573746174696f6e207631".replace(/ /g, ""));
  assert.equal(ATTESTATION_LABEL.length, 22);
});

test("REPORT_DATA = SHA-512(label ‖ nonce ‖ exporter), and depends on each part", () => {
  const nonce = new Uint8Array(32).fill(1);
  const exp = new Uint8Array(EXPORTER_LENGTH).fill(2);
  const want = createHash("sha512").update("00SEVen attestation v1").update(nonce).update(exp).digest();
  assert.deepEqual(Buffer.from(attestationReportData(nonce, exp)), want);
  assert.notDeepEqual(attestationReportData(nonce, new Uint8Array(32).fill(3)), attestationReportData(nonce, exp));
  assert.throws(() => attestationReportData(new Uint8Array(31), exp), BindingInputError);
  assert.throws(() => attestationReportData(new Uint8Array(65), exp), BindingInputError);
  assert.throws(() => attestationReportData(nonce, new Uint8Array(16)), BindingInputError);
  assert.equal(v0ReportData(Uint8Array.of(1)).length, 64);
});
