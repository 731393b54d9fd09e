import { test } from "node:test";
import assert from "node:assert/strict";
import { gpa, PAGE_SIZE } from "../../shared/base/index.js";
import { decodeSignerInfo, parseAttestationReport } from "../../shared/spec/index.js";
import { REPORT_STATUS, SEV_RET } from "./firmware-status.js";
import { createSecureProcessor } from "./index.js";
import { FakeHardware, testConfig } from "./testing/fake-hardware.js";
import { buildRequestPage, ivOf, openResponsePage, reportRequest, reportResponse } from "./testing/guest-client.js";
import type { RequestSpec } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";
import type { LaunchedGuest } from "./testing/launched-guest.js";

const DATA = new Uint8Array(64).map((_, i) => 0xa0 ^ i);
const SENTINEL = new Uint8Array(PAGE_SIZE).fill(0xee);

function send(g: LaunchedGuest, r: RequestSpec): number {
  g.hw.hostWrite(g.request, buildRequestPage(r));
  g.hw.hostWrite(g.response, SENTINEL);
  return g.asp.guestRequest(g.request, g.response);
}

function responseUntouched(g: LaunchedGuest): boolean {
  return Buffer.from(g.hw.readPage(g.response)).equals(Buffer.from(SENTINEL));
}

function reportVia(g: LaunchedGuest, vmpck: number, seqno: bigint, vmpl: number, keySel = 0) {
  const key = g.vmpck[vmpck]!;
  assert.equal(send(g, { key, vmpck, seqno, payload: reportRequest(DATA, vmpl, keySel) }), SEV_RET.SUCCESS);
  return reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload);
}

test("IV is seqno (LE) followed by four zero bytes", () => {
  assert.deepEqual([...ivOf(0x0102n)], [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test("round trip: MSG_REPORT_REQ under VMPCK0 → MSG_REPORT_RSP (type+1, seqno+1, same VMPCK) with a VMPL0 report", () => {
  const g = launchGuest();
  const key = g.vmpck[0]!;
  assert.equal(send(g, { key, vmpck: 0, seqno: 1n, payload: reportRequest(DATA, 0) }), SEV_RET.SUCCESS);
  const rsp = openResponsePage(g.hw.readPage(g.response), key);
  assert.deepEqual([rsp.seqno, rsp.msgType, rsp.msgVersion, rsp.msgSz, rsp.vmpck], [2n, 6, 1, 0x4c0, 0]);
  const body = reportResponse(rsp.payload);
  assert.equal(body.status, REPORT_STATUS.SUCCESS);
  assert.equal(body.size, 0x4a0);
  const report = parseAttestationReport(body.report);
  assert.deepEqual(report.reportData, DATA);
  assert.equal(report.vmpl, 0);
  assert.deepEqual(report.measurement, g.asp.launchDigest);
  // The next request uses response seqno + 1 = 3, and gets 4 back.
  assert.equal(send(g, { key, vmpck: 0, seqno: 3n, payload: reportRequest(DATA, 2) }), SEV_RET.SUCCESS);
  const second = openResponsePage(g.hw.readPage(g.response), key);
  assert.equal(second.seqno, 4n);
  assert.equal(parseAttestationReport(reportResponse(second.payload).report).vmpl, 2);
  // The response header's reserved bytes are zero; the tag's second half too.
  const page = g.hw.readPage(g.response);
  assert.ok(page.subarray(16, 32).every((b) => b === 0));
  assert.ok(page.subarray(0x3d, 0x60).every((b) => b === 0));
  assert.ok(page.subarray(0x60 + 0x4c0).every((b) => b === 0));
});

test("each VMPCK has its own sequence numbers", () => {
  const g = launchGuest();
  for (const n of [0, 1, 2, 3]) assert.equal(reportVia(g, n, 1n, 3).status, 0, `VMPCK${n} seqno 1`);
  assert.equal(reportVia(g, 2, 3n, 3).status, 0);
  assert.equal(reportVia(g, 0, 3n, 3).status, 0);
});

test("wrong key: a message sealed with VMPCK0 but naming VMPCK1 fails authentication and changes nothing", () => {
  const g = launchGuest();
  assert.equal(send(g, { key: g.vmpck[0]!, vmpck: 1, seqno: 1n, payload: reportRequest(DATA, 1) }), SEV_RET.BAD_SIGNATURE);
  assert.ok(responseUntouched(g));
  // A key the firmware never issued.
  assert.equal(send(g, { key: new Uint8Array(32).fill(9), vmpck: 0, seqno: 1n, payload: reportRequest(DATA, 0) }), SEV_RET.BAD_SIGNATURE);
  assert.ok(responseUntouched(g));
  // Sequence numbers did not move: the right key with seqno 1 still works on both VMPCKs.
  assert.equal(reportVia(g, 1, 1n, 1).status, 0);
  assert.equal(reportVia(g, 0, 1n, 0).status, 0);
});

test("sequence numbers: the next one is expected, replays and skips are refused, seqno 0 is invalid", () => {
  const g = launchGuest();
  const key = g.vmpck[0]!;
  const req = (seqno: bigint) => ({ key, vmpck: 0, seqno, payload: reportRequest(DATA, 0) });
  assert.equal(send(g, req(0n)), SEV_RET.INVALID_PARAM);
  assert.ok(responseUntouched(g));
  assert.equal(send(g, req(3n)), SEV_RET.INVALID_PARAM, "skipping ahead");
  assert.ok(responseUntouched(g));
  const first = buildRequestPage(req(1n));
  g.hw.hostWrite(g.request, first);
  assert.equal(g.asp.guestRequest(g.request, g.response), SEV_RET.SUCCESS);
  g.hw.hostWrite(g.response, SENTINEL);
  assert.equal(g.asp.guestRequest(g.request, g.response), SEV_RET.INVALID_PARAM, "replay of an authentic request");
  assert.ok(responseUntouched(g));
  assert.equal(send(g, req(2n)), SEV_RET.INVALID_PARAM, "the response's seqno is not a request seqno");
  assert.equal(send(g, req(3n)), SEV_RET.SUCCESS);
});

test("tampering with the ciphertext, the tag or an authenticated header byte fails authentication", () => {
  const g = launchGuest();
  const key = g.vmpck[0]!;
  const good = buildRequestPage({ key, vmpck: 0, seqno: 1n, payload: reportRequest(DATA, 0) });
  const tamper = (f: (p: Uint8Array) => void) => {
    const p = new Uint8Array(good);
    f(p);
    g.hw.hostWrite(g.request, p);
    g.hw.hostWrite(g.response, SENTINEL);
    return g.asp.guestRequest(g.request, g.response);
  };
  assert.equal(tamper((p) => (p[0x60 + 0x10]! ^= 1)), SEV_RET.BAD_SIGNATURE, "ciphertext");
  assert.equal(tamper((p) => (p[3]! ^= 0x80)), SEV_RET.BAD_SIGNATURE, "tag");
  assert.equal(tamper((p) => (p[0x34] = 3)), SEV_RET.BAD_SIGNATURE, "MSG_TYPE (in the AAD)");
  assert.equal(tamper((p) => (p[0x36] = 0x5f)), SEV_RET.BAD_SIGNATURE, "MSG_SZ (in the AAD)");
  assert.ok(responseUntouched(g));
  // Malformed (not merely tampered) headers are refused before decryption.
  assert.equal(tamper((p) => (p[0x30] = 2)), SEV_RET.INVALID_PARAM, "ALGO");
  assert.equal(tamper((p) => (p[0x31] = 2)), SEV_RET.INVALID_PARAM, "HDR_VERSION");
  assert.equal(tamper((p) => (p[0x3c] = 4)), SEV_RET.INVALID_PARAM, "MSG_VMPCK");
  assert.equal(tamper((p) => (p[0x40] = 1)), SEV_RET.INVALID_PARAM, "reserved byte");
  assert.equal(tamper((p) => (p[0x34] = 6)), SEV_RET.INVALID_PARAM, "a response type");
  assert.equal(tamper((p) => (p[0x34] = 0x42)), SEV_RET.INVALID_PARAM, "unknown type");
  assert.ok(responseUntouched(g));
  assert.equal(tamper(() => undefined), SEV_RET.SUCCESS, "the untampered request still works (seqno unmoved)");
});

test("VMPCKn may only ask for VMPL n..3: lower → MSG_REPORT_RSP status INVALID_PARAM (0x16)", () => {
  const g = launchGuest();
  const seq = [1n, 1n, 1n, 1n];
  const ask = (n: number, vmpl: number) => {
    const r = reportVia(g, n, seq[n]!, vmpl);
    seq[n]! += 2n;
    return r;
  };
  for (let n = 0; n < 4; n++) {
    for (let vmpl = 0; vmpl < 4; vmpl++) {
      const r = ask(n, vmpl);
      if (vmpl < n) {
        assert.deepEqual([r.status, r.size], [REPORT_STATUS.INVALID_PARAM, 0], `VMPCK${n} VMPL${vmpl}`);
        assert.ok(r.report.every((b) => b === 0), "no report in a refused response");
      } else {
        assert.equal(r.status, REPORT_STATUS.SUCCESS, `VMPCK${n} VMPL${vmpl}`);
        assert.equal(parseAttestationReport(r.report).vmpl, vmpl);
      }
    }
  }
  assert.equal(ask(0, 4).status, REPORT_STATUS.INVALID_PARAM, "VMPL above 3");
});

test("KEY_SEL: 0 and 1 sign with the VCEK; 2 (VLEK, not installed) and 3 → INVALID_KEY_SELECTION (0x27)", () => {
  const g = launchGuest();
  let s = 1n;
  const ask = (keySel: number) => {
    const r = reportVia(g, 0, s, 0, keySel);
    s += 2n;
    return r;
  };
  for (const k of [0, 1]) {
    const r = ask(k);
    assert.equal(r.status, 0);
    assert.equal(decodeSignerInfo(parseAttestationReport(r.report).signerInfo).signingKeyName, "vcek");
  }
  assert.equal(ask(2).status, REPORT_STATUS.INVALID_KEY_SELECTION);
  assert.equal(ask(3).status, REPORT_STATUS.INVALID_KEY_SELECTION);
  assert.equal(ask(4).status, REPORT_STATUS.INVALID_PARAM, "KEY_SEL bits 31:2 are reserved");
});

test("a report request of the wrong size is answered with INVALID_PARAM", () => {
  const g = launchGuest();
  const key = g.vmpck[0]!;
  assert.equal(send(g, { key, vmpck: 0, seqno: 1n, payload: new Uint8Array(0x5f) }), SEV_RET.SUCCESS);
  assert.equal(reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload).status, REPORT_STATUS.INVALID_PARAM);
});

test("message types the model does not implement get UNSUPPORTED without consuming the seqno", () => {
  const g = launchGuest();
  const key = g.vmpck[0]!;
  assert.equal(send(g, { key, vmpck: 0, seqno: 1n, msgType: 3, payload: new Uint8Array(0x20) }), SEV_RET.UNSUPPORTED);
  assert.ok(responseUntouched(g));
  assert.equal(reportVia(g, 0, 1n, 0).status, 0);
});

test("guest requests need a running guest and shared, page-aligned request/response pages", () => {
  const hw = new FakeHardware();
  const asp = createSecureProcessor(hw, testConfig());
  assert.equal(asp.guestRequest(gpa(0x10000), gpa(0x11000)), SEV_RET.INVALID_GUEST_STATE);
  asp.launchStart({ policy: 0x30000n });
  assert.equal(asp.guestRequest(gpa(0x10000), gpa(0x11000)), SEV_RET.INVALID_GUEST_STATE);
  const g = launchGuest();
  const page = buildRequestPage({ key: g.vmpck[0]!, vmpck: 0, seqno: 1n, payload: reportRequest(DATA, 0) });
  g.hw.hostWrite(g.request, page);
  assert.equal(g.asp.guestRequest(gpa(0x10008), g.response), SEV_RET.INVALID_ADDRESS);
  assert.equal(g.asp.guestRequest(g.request, gpa(g.hw.memoryBytes)), SEV_RET.INVALID_ADDRESS);
  assert.equal(g.asp.guestRequest(gpa(0x1000), g.response), SEV_RET.INVALID_PAGE_STATE, "request page is guest-private");
  assert.equal(g.asp.guestRequest(g.request, gpa(0x1000)), SEV_RET.INVALID_PAGE_STATE, "response page is guest-private");
  assert.equal(g.asp.guestRequest(g.request, g.response), SEV_RET.SUCCESS);
});
