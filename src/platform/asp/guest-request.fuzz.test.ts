import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PAGE_SIZE } from "../../shared/base/index.js";
import { SEV_RET } from "./firmware-status.js";
import { buildRequestPage, reportRequest } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const STATUSES = new Set<number>(Object.values(SEV_RET));

test("SNP_GUEST_REQUEST on random request pages returns a firmware status and never throws", () => {
  const g = launchGuest();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: PAGE_SIZE, maxLength: PAGE_SIZE }), (page) => {
      g.hw.hostWrite(g.request, page);
      const s = g.asp.guestRequest(g.request, g.response);
      assert.ok(STATUSES.has(s));
      assert.notEqual(s, SEV_RET.SUCCESS);
    }),
    { numRuns: RUNS },
  );
});

test("SNP_GUEST_REQUEST on mutated valid requests: only a byte-identical request succeeds", () => {
  const g = launchGuest();
  const fresh = g.asp.snapshot();
  const good = buildRequestPage({ key: g.vmpck[0]!, vmpck: 0, seqno: 1n, payload: reportRequest(new Uint8Array(64), 0) });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x60 + 0x60 - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const page = new Uint8Array(good);
      page[at]! ^= x;
      g.hw.hostWrite(g.request, page);
      const s = g.asp.guestRequest(g.request, g.response);
      // Bytes 16..31 of AUTHTAG are neither checked nor authenticated (only the first 16 are the GCM tag).
      if (at >= 16 && at < 32) assert.equal(s, SEV_RET.SUCCESS);
      else assert.notEqual(s, SEV_RET.SUCCESS, `byte 0x${at.toString(16)}`);
      if (s === SEV_RET.SUCCESS) g.asp.restore(fresh); // the seqno moved on: rewind for the next run
    }),
    { numRuns: RUNS },
  );
});
