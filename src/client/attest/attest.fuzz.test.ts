/**
 * Property tests on the decoders of untrusted input: random and mutated report bytes,
 * certificates and chain files never raise anything but a DecodeError from the parsers,
 * and the top-level check never throws at all (it reports failed checks).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, fixedClock } from "../../shared/base/index.js";
import { REPORT_SIZE } from "../../shared/spec/index.js";
import { checkAttestation } from "./attest.js";
import { parseCertificate } from "./certificate.js";
import { parseCertificates, parseReport } from "./parse.js";
import { readVector, REAL_EVIDENCE } from "./testing/vectors.js";

const RUNS = Number(process.env["SEVEN_FUZZ_RUNS"] ?? 200);
const REPORTS = REAL_EVIDENCE.map((v) => readVector(v.report));
const CERTS = REAL_EVIDENCE.map((v) => readVector(v.certificate));

function onlyDecodeErrors(f: () => unknown): void {
  try {
    f();
  } catch (e: unknown) {
    assert.ok(e instanceof DecodeError, `threw ${String(e)}`);
  }
}

/** A real sample with a few bytes overwritten, or truncated / extended. */
const mutated = (samples: readonly Uint8Array[]) =>
  fc
    .tuple(
      fc.nat(samples.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.integer({ min: -64, max: 64 })),
    )
    .map(([i, edits, resize]) => {
      let b = samples[i]!.slice();
      for (const [pos, v] of edits) b[pos % b.length] = v;
      if (resize !== null) b = resize < 0 ? b.slice(0, Math.max(0, b.length + resize)) : Uint8Array.from([...b, ...new Uint8Array(resize)]);
      return b;
    });

test("report parser: random bytes → report or DecodeError", () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 1300 }), fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE })), (b) =>
      onlyDecodeErrors(() => parseReport(b)),
    ),
    { numRuns: RUNS },
  );
});

test("report parser: mutated real reports → report or DecodeError", () => {
  fc.assert(fc.property(mutated(REPORTS), (b) => onlyDecodeErrors(() => parseReport(b))), { numRuns: RUNS });
});

test("certificate parser: random and mutated DER, PEM text → certificate or DecodeError", () => {
  fc.assert(fc.property(mutated(CERTS), (b) => onlyDecodeErrors(() => parseCertificate(b))), { numRuns: RUNS });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => onlyDecodeErrors(() => parseCertificates(b))), { numRuns: RUNS });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => onlyDecodeErrors(() => parseCertificates(`-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----`))), {
    numRuns: RUNS,
  });
});

test("checkAttestation never throws on mutated evidence, and never passes a mutated report", () => {
  const v = REAL_EVIDENCE[1]!;
  const cert = readVector(v.certificate);
  fc.assert(
    fc.property(mutated(REPORTS), mutated([cert]), fc.boolean(), (report, c, mutateCert) => {
      const r = checkAttestation({ report, certificate: mutateCert ? c : cert, keyKind: "vcek", clock: fixedClock(v.at) }, {});
      const original = REPORTS[1]!;
      const sameReport = report.length === original.length && report.every((x, i) => x === original[i]);
      const sameCert = !mutateCert || (c.length === cert.length && c.every((x, i) => x === cert[i]));
      if (!(sameReport && sameCert)) assert.equal(r.ok, false);
    }),
    { numRuns: Math.max(20, Math.floor(RUNS / 4)) },
  );
});
