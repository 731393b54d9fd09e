/**
 * A minimal DER writer for the parts of an X.509 certificate the simulated KDS assembles
 * itself (the outer Certificate and TBSCertificate SEQUENCEs, INTEGERs, times, the PSS
 * AlgorithmIdentifier, the AMD extensions' inner values). Names and standard extensions
 * are encoded by @peculiar/x509. Writing only — parsing is the verifier's business.
 */
import { concatBytes } from "../../shared/base/index.js";

export function derLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([tag]), derLength(content.length), content);
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concatBytes(...parts));
/** [n] EXPLICIT (constructed, context-specific). */
export const explicit = (n: number, ...parts: Uint8Array[]): Uint8Array => tlv(0xa0 | n, concatBytes(...parts));
export const DER_NULL = new Uint8Array([0x05, 0x00]);

/** A non-negative INTEGER, minimally encoded (217 → 02 02 00 D9). */
export function derUint(v: bigint | number): Uint8Array {
  const x = BigInt(v);
  if (x < 0n) throw new RangeError("derUint: negative");
  let hex = x.toString(16);
  if (hex.length % 2 === 1) hex = "0" + hex;
  const mag = Buffer.from(hex, "hex");
  const body = mag[0]! & 0x80 ? concatBytes(new Uint8Array([0]), mag) : new Uint8Array(mag);
  return tlv(0x02, body);
}

export const derBitString = (b: Uint8Array): Uint8Array => tlv(0x03, concatBytes(new Uint8Array([0]), b));
export const derOctetString = (b: Uint8Array): Uint8Array => tlv(0x04, b);

export function derIa5String(s: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError("IA5String must be ASCII");
  return tlv(0x16, new Uint8Array(Buffer.from(s, "ascii")));
}

export function derOid(oid: string): Uint8Array {
  const arcs = oid.split(".").map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  const push = (v: bigint) => {
    const groups: number[] = [];
    let x = v;
    do {
      groups.unshift(Number(x & 0x7fn));
      x >>= 7n;
    } while (x > 0n);
    groups.forEach((g, i) => out.push(i < groups.length - 1 ? g | 0x80 : g));
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, new Uint8Array(out));
}

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, "Z". */
export function derTime(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const y = d.getUTCFullYear();
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(0x17, new Uint8Array(Buffer.from(`${p(y % 100)}${rest}`, "ascii")));
  return tlv(0x18, new Uint8Array(Buffer.from(`${p(y, 4)}${rest}`, "ascii")));
}

export const OID = {
  RSASSA_PSS: "1.2.840.113549.1.1.10",
  MGF1: "1.2.840.113549.1.1.8",
  SHA384: "2.16.840.1.101.3.4.2.2",
} as const;

/**
 * AlgorithmIdentifier of RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48 (SNP.md §2.1).
 * AMD's ARK and ASK certificates spell out trailerField 1 (the DEFAULT); current VCEKs omit it.
 */
export function rsaPssSha384AlgorithmId(explicitTrailer: boolean): Uint8Array {
  const sha384 = seq(derOid(OID.SHA384), DER_NULL);
  const params = [explicit(0, sha384), explicit(1, seq(derOid(OID.MGF1), sha384)), explicit(2, derUint(48))];
  if (explicitTrailer) params.push(explicit(3, derUint(1)));
  return seq(derOid(OID.RSASSA_PSS), seq(...params));
}
