import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../shared/base/index.js";
import { parseDer, readBoolean, readOid, readTime, readUnsignedInteger, TAG } from "./der.js";
import { checkAmdPssAlgorithm } from "./signature-algorithm.js";
import { algorithmIdentifier, der } from "./testing/index.js";

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
const decodeFails = (f: () => unknown): void => assert.throws(f, (e: unknown) => e instanceof DecodeError && e.code === "DER_MALFORMED");

test("DER reader: strict lengths, integers, booleans, OIDs, times", () => {
  assert.equal(readUnsignedInteger(parseDer(h("0202 00d9"))), 217n);
  decodeFails(() => readUnsignedInteger(parseDer(h("0202 0001")))); // non-minimal
  decodeFails(() => readUnsignedInteger(parseDer(h("0201 80")))); // negative
  decodeFails(() => parseDer(h("0281 01 05"))); // long form for a short length
  decodeFails(() => parseDer(h("3080 0000"))); // indefinite length
  decodeFails(() => parseDer(h("0203 0001"))); // runs past the end
  decodeFails(() => parseDer(h("0201 05 00"))); // trailing byte
  decodeFails(() => readBoolean(parseDer(h("0101 01"))));
  assert.equal(readOid(parseDer(der.oid("1.3.6.1.4.1.3704.1.3.8"))), "1.3.6.1.4.1.3704.1.3.8");
  assert.equal(readOid(parseDer(h("0603 2b0601"))), "1.3.6.1");
  assert.equal(readTime(parseDer(der.time(new Date("2045-10-22T17:23:05Z")))), Date.UTC(2045, 9, 22, 17, 23, 5));
  assert.equal(readTime(parseDer(der.time(new Date("2051-01-01T00:00:00Z")))), Date.UTC(2051, 0, 1));
  decodeFails(() => readTime(parseDer(h("170d 3235303233303030303030305a")))); // 2025-02-30
  assert.equal(parseDer(der.seq(der.int(1)), TAG.SEQUENCE).tag, TAG.SEQUENCE);
});

test("AMD PSS AlgorithmIdentifier: exactly SHA-384 / MGF1-SHA-384 / salt 48 / trailer 1", () => {
  assert.equal(checkAmdPssAlgorithm(algorithmIdentifier({ kind: "pss" })), undefined);
  assert.equal(checkAmdPssAlgorithm(algorithmIdentifier({ kind: "pss", explicitTrailer: true })), undefined);
  assert.match(checkAmdPssAlgorithm(algorithmIdentifier({ kind: "pss", salt: 32 }))!, /saltLength 32/);
  assert.match(checkAmdPssAlgorithm(algorithmIdentifier({ kind: "pss", mgfHash: "sha256" }))!, /MGF1 hash/);
  assert.match(checkAmdPssAlgorithm(algorithmIdentifier({ kind: "pkcs1" }))!, /not RSASSA-PSS/);
  // RFC 4055 defaults (SHA-1, MGF1-SHA-1, salt 20) are not AMD's.
  assert.match(checkAmdPssAlgorithm(der.seq(der.oid("1.2.840.113549.1.1.10"), der.seq()))!, /hashAlgorithm absent/);
  assert.match(checkAmdPssAlgorithm(h("3003 0201 00"))!, /malformed/);
});
