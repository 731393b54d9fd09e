import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { GuestChannel, GuestRequestError } from "./guest-request.js";
import { FakeAsp } from "../testing/fake-asp.js";

const key = () => new Uint8Array(randomBytes(32));
const rd = (b: number) => new Uint8Array(64).fill(b);
const code = (c: string) => (e: unknown) => e instanceof GuestRequestError && e.code === c;

test("a report request round trip under VMPCK0: VMPL 0, our REPORT_DATA, sequence numbers 1, 3, 5", () => {
  const k = key();
  const ch = new GuestChannel(k);
  const asp = new FakeAsp(k);
  for (const [i, seq] of [1n, 3n, 5n].entries()) {
    const s = ch.sealReportRequest(rd(i));
    assert.equal(s.seqno, seq);
    const rsp = asp.answer(s.page);
    assert.ok(rsp instanceof Uint8Array);
    const report = ch.openReportResponse(rsp);
    assert.deepEqual(report.subarray(0x50, 0x90), rd(i));
  }
  assert.equal(ch.completed, 3);
  assert.equal(ch.disabled, false);
});

test("a replayed response (an earlier exchange) is refused and VMPCK0 is wiped", () => {
  const k = key();
  const ch = new GuestChannel(k);
  const asp = new FakeAsp(k);
  const first = asp.answer(ch.sealReportRequest(rd(1)).page) as Uint8Array;
  ch.openReportResponse(first);
  ch.sealReportRequest(rd(2));
  assert.throws(() => ch.openReportResponse(first), code("BAD_RESPONSE"));
  assert.equal(ch.disabled, true);
  assert.throws(() => ch.sealReportRequest(rd(3)), code("DISABLED"));
});

test("a swapped response (another VM's, another key) or a tampered one is refused", () => {
  const k = key();
  const ch = new GuestChannel(k);
  const other = new FakeAsp(key());
  const rsp = other.answer(new GuestChannel(other.vmpck).sealReportRequest(rd(1)).page) as Uint8Array;
  ch.sealReportRequest(rd(1));
  assert.throws(() => ch.openReportResponse(rsp), code("BAD_RESPONSE"));
  const k2 = key();
  const ch2 = new GuestChannel(k2);
  const good = new FakeAsp(k2).answer(ch2.sealReportRequest(rd(1)).page) as Uint8Array;
  good[0x60 + 0x55] = good[0x60 + 0x55]! ^ 1; // one ciphertext bit of REPORT_DATA
  assert.throws(() => ch2.openReportResponse(good), code("BAD_RESPONSE"));
});

test("a report that is not VMPL0 or carries other REPORT_DATA is refused; a firmware refusal is REFUSED", () => {
  for (const tweak of ["vmpl", "status"] as const) {
    const k = key();
    const ch = new GuestChannel(k);
    const asp = new FakeAsp(k);
    if (tweak === "vmpl") asp.reportVmpl = 1;
    else asp.status = 0x16;
    const rsp = asp.answer(ch.sealReportRequest(rd(1)).page) as Uint8Array;
    assert.throws(() => ch.openReportResponse(rsp), code(tweak === "vmpl" ? "BAD_RESPONSE" : "REFUSED"));
    assert.ok(ch.disabled);
  }
  const k = key();
  const ch = new GuestChannel(k);
  const s = ch.sealReportRequest(rd(1));
  assert.throws(() => ch.sealReportRequest(rd(2)), code("REFUSED"), "one request at a time");
  ch.abandon();
  assert.ok(ch.disabled, "an abandoned request also withdraws the key (its IV may have been used)");
  void s;
});

test("no VMPCK0 (all zero) means attestation is off from the start", () => {
  const ch = new GuestChannel(new Uint8Array(32));
  assert.ok(ch.disabled);
  assert.throws(() => ch.sealReportRequest(rd(0)), code("DISABLED"));
  assert.throws(() => ch.openReportResponse(new Uint8Array(4096)), code("NOT_PENDING"));
});
