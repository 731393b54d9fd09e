/**
 * Test-only access to the real SEV-SNP vectors in ../shared/vectors (see its README.md), and
 * a scanner for the VCEK hwID extension. (shared/spec has its own copy; domains may not
 * import each other's test helpers.)
 */
import { readFileSync } from "node:fs";

const ROOT = new URL("../../../../../shared/vectors/", import.meta.url);

export function readVector(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(rel, ROOT)));
}

export function readVectorText(rel: string): string {
  return readFileSync(new URL(rel, ROOT), "utf8");
}

/** The raw hwID extension value (OID 1.3.6.1.4.1.3704.1.4, non-critical, short length) of a DER certificate. */
export function hwIdOf(der: Uint8Array): Uint8Array | undefined {
  const oid = Buffer.from([0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, 0x04, 0x04]);
  const at = Buffer.from(der).indexOf(oid);
  if (at < 0) return undefined;
  const len = der[at + oid.length]!;
  return len < 0x80 ? der.slice(at + oid.length + 1, at + oid.length + 1 + len) : undefined;
}
