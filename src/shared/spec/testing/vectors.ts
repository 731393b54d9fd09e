/**
 * Test-only access to the real SEV-SNP vectors in ../shared/vectors (see its README.md).
 * Excluded from the build (src/**\/testing/**).
 */
import { readFileSync } from "node:fs";

const ROOT = new URL("../../../../../shared/vectors/", import.meta.url);

export function readVector(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(rel, ROOT)));
}

export function readVectorText(rel: string): string {
  return readFileSync(new URL(rel, ROOT), "utf8");
}

/** The five real reports and the VCEK/VLEK (DER) that signed each. */
export const REAL_REPORTS = [
  { name: "go-sev-guest", report: "go-sev-guest/attestation.bin", cert: "go-sev-guest/vcek.testcer" },
  { name: "virtee-milan", report: "virtee-sev/report_milan.bin", cert: "virtee-sev/vcek_milan.der" },
  { name: "trustee-vcek", report: "trustee/test-report.bin", cert: "trustee/test-vcek.der" },
  { name: "trustee-vlek", report: "trustee/test-vlek-report.bin", cert: "trustee/test-vlek.der" },
  { name: "trustee-e2e-genoa", report: "trustee/e2e_report_genoa_v3.bin", cert: "trustee/e2e_vcek_genoa.der" },
] as const;

/**
 * Finds the raw value of the AMD hwID extension (OID 1.3.6.1.4.1.3704.1.4) by scanning the
 * DER for the OID bytes (tests only; the real extension parser lives with the verifier).
 * Extension = SEQUENCE { OID, [BOOLEAN], OCTET STRING { raw hwID } }.
 */
export function findHwIdByScan(der: Uint8Array): Uint8Array | undefined {
  const oid = [0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, 0x04];
  outer: for (let i = 0; i + oid.length < der.length; i++) {
    for (let j = 0; j < oid.length; j++) if (der[i + j] !== oid[j]) continue outer;
    let p = i + oid.length;
    if (der[p] === 0x01) p += 3; // optional critical BOOLEAN
    if (der[p] !== 0x04) return undefined;
    const len = der[p + 1]!;
    if (len >= 0x80) return undefined;
    return der.slice(p + 2, p + 2 + len);
  }
  return undefined;
}
