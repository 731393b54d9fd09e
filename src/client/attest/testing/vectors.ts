/**
 * The real AMD evidence in ../shared/vectors (see its README for provenance), as test
 * cases: report, signing certificate, key kind, product, the chain file that came with
 * it, and the policy under which it is expected to pass.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { KeyKind } from "../chain.js";
import type { SnpProduct } from "../product.js";
import type { AttestationPolicy } from "../validate.js";

export const VECTORS_DIR = fileURLToPath(new URL("../../../../../shared/vectors/", import.meta.url));

export function readVector(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(VECTORS_DIR + rel));
}

export interface RealEvidence {
  readonly name: string;
  readonly report: string;
  readonly certificate: string;
  readonly keyKind: KeyKind;
  readonly product: SnpProduct;
  readonly chain: string;
  /** The policy under which it passes (beyond the defaults). */
  readonly policy: AttestationPolicy;
  /** A time inside every certificate's validity. */
  readonly at: string;
}

export const REAL_EVIDENCE: readonly RealEvidence[] = [
  {
    name: "go-sev-guest attestation.bin (Milan, DEBUG=1)",
    report: "go-sev-guest/attestation.bin",
    certificate: "go-sev-guest/vcek.testcer",
    keyKind: "vcek",
    product: "milan",
    chain: "go-sev-guest/milan.testcer",
    policy: { allowDebug: true },
    at: "2025-06-01T00:00:00Z",
  },
  {
    name: "virtee report_milan.bin",
    report: "virtee-sev/report_milan.bin",
    certificate: "virtee-sev/vcek_milan.der",
    keyKind: "vcek",
    product: "milan",
    chain: "virtee-sev/cert_chain_milan",
    policy: {},
    at: "2025-06-01T00:00:00Z",
  },
  {
    name: "trustee test-report.bin",
    report: "trustee/test-report.bin",
    certificate: "trustee/test-vcek.der",
    keyKind: "vcek",
    product: "milan",
    chain: "trustee/milan_ask_ark_asvk.pem",
    policy: {},
    at: "2025-06-01T00:00:00Z",
  },
  {
    name: "trustee test-vlek-report.bin (VLEK, VMPL 1)",
    report: "trustee/test-vlek-report.bin",
    certificate: "trustee/test-vlek.der",
    keyKind: "vlek",
    product: "milan",
    chain: "go-sev-guest/milanvlek.testcer",
    policy: { vmpl: 1 },
    at: "2025-06-01T00:00:00Z",
  },
  {
    name: "trustee e2e Genoa v3",
    report: "trustee/e2e_report_genoa_v3.bin",
    certificate: "trustee/e2e_vcek_genoa.der",
    keyKind: "vcek",
    product: "genoa",
    chain: "go-sev-guest/ask_ark_genoa.pem",
    policy: {},
    at: "2025-06-01T00:00:00Z",
  },
];
