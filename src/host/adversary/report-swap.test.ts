import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesEqual } from "../../shared/base/index.js";
import { AGENT_YIELD, MSG_REPORT_RSP, SNP_MSG_TYPE, decodeGuestRequestResult, parseGuestMessageHeader } from "../../shared/spec/index.js";
import { openResponse } from "../testing/guest-message.js";
import { testWorld } from "../testing/test-world.js";

function twoReports(adversary: Parameters<typeof testWorld>[0]) {
  const w = testWorld({ vcpus: 1, ...adversary });
  w.agent.reportRequests = 2;
  w.agent.flags = AGENT_YIELD.MORE_WORK;
  for (let i = 0; i < 3; i++) w.host.round();
  assert.equal(w.agent.responses.length, 2);
  return w;
}

test("an honest host relays guest requests: both responses open under VMPCK0 with the expected seqnos", () => {
  const w = twoReports({});
  const key = w.agent.vmpck0!;
  w.agent.responses.forEach((r, i) => {
    assert.deepEqual(decodeGuestRequestResult(r.result), { vmmError: 0, fwError: 0 });
    const m = openResponse(key, r.page);
    assert.equal(m.seqno, r.seqno + 1n, `response ${i}`);
    assert.equal(m.msgType, SNP_MSG_TYPE.REPORT_RSP);
    const rsp = MSG_REPORT_RSP.parse(m.payload.subarray(0, MSG_REPORT_RSP.size));
    assert.equal(rsp.status, 0);
  });
  assert.equal(w.host.counters()["vmgexit.nae.guest-request"], 2);
});

test("swap-report=replay: the second response page is the first one again (wrong seqno for the requester)", () => {
  const w = twoReports({ adversary: { swapReport: { mode: "replay" } } });
  const [a, b] = w.agent.responses;
  assert.ok(bytesEqual(a!.page, b!.page));
  const m = openResponse(w.agent.vmpck0!, b!.page);
  assert.equal(m.seqno, 2n);
  assert.notEqual(m.seqno, b!.seqno + 1n);
  assert.equal(w.host.counters()["adversary.swap-report"], 1);
});

test("swap-report=foreign: the response is another VM's report message, which does not open under this VM's VMPCK0", () => {
  const w = twoReports({ adversary: { swapReport: { mode: "foreign" } } });
  for (const r of w.agent.responses) assert.throws(() => openResponse(w.agent.vmpck0!, r.page));
  assert.equal(w.host.counters()["adversary.swap-report"], 2);
  // It is a well-formed report response message (of the other VM), not noise.
  const h = parseGuestMessageHeader(w.agent.responses[0]!.page);
  assert.equal(h.msgType, SNP_MSG_TYPE.REPORT_RSP);
  assert.equal(h.msgSeqno, 2n);
});
