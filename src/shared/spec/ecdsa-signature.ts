/**
 * The SNP ABI "ECDSA P-384 with SHA-384" signature field — SNP.md §1.1 (ABI Table 115/148;
 * go-sev-guest `ReportToSignatureDER`). Used by ATTESTATION_REPORT.SIGNATURE (0x2A0) and the
 * ID_AUTH signatures (§3.5).
 *
 * 0x200 bytes: R = 72-byte little-endian integer at +0x00, S = 72-byte little-endian
 * integer at +0x48, bytes +0x90..+0x200 must be zero. DER form (for X.509/WebCrypto APIs):
 * `SEQUENCE { INTEGER r, INTEGER s }`.
 */
import { DecodeError, readUintLE, writeUintLE } from "../base/index.js";

export const SIGNATURE_SIZE = 0x200;
export const SIGNATURE_R_OFFSET = 0x00;
export const SIGNATURE_S_OFFSET = 0x48;
/** Width of each of R and S in the field. */
export const SIGNATURE_COMPONENT_SIZE = 72;
/** First byte after S; everything from here to 0x200 must be zero. */
export const SIGNATURE_RS_END = 0x90;
/** SIGNATURE_ALGO value for ECDSA P-384 with SHA-384 (SNP.md §1 row 0x034). */
export const SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1;

export interface EcdsaRS {
  readonly r: bigint;
  readonly s: bigint;
}

/** Reads R and S from a 0x200-byte signature field (checks the length and the zero tail). */
export function signatureToRS(sigField: Uint8Array): EcdsaRS {
  if (sigField.length !== SIGNATURE_SIZE) {
    throw new DecodeError("BAD_LENGTH", `signature field is ${sigField.length} bytes, need ${SIGNATURE_SIZE}`, {
      field: "signature",
      expected: SIGNATURE_SIZE,
      actual: sigField.length,
    });
  }
  for (let i = SIGNATURE_RS_END; i < SIGNATURE_SIZE; i++) {
    if (sigField[i] !== 0) {
      throw new DecodeError("SIGNATURE_TAIL_NONZERO", `signature byte 0x${i.toString(16)} must be zero`, {
        field: "signature",
        offset: i,
      });
    }
  }
  return {
    r: readUintLE(sigField, SIGNATURE_R_OFFSET, SIGNATURE_COMPONENT_SIZE),
    s: readUintLE(sigField, SIGNATURE_S_OFFSET, SIGNATURE_COMPONENT_SIZE),
  };
}

/** Builds a 0x200-byte signature field from R and S (each < 2^576). */
export function signatureFromRS(rs: EcdsaRS): Uint8Array {
  const out = new Uint8Array(SIGNATURE_SIZE);
  for (const [v, off] of [[rs.r, SIGNATURE_R_OFFSET], [rs.s, SIGNATURE_S_OFFSET]] as const) {
    if (v < 0n) throw new RangeError("signature component must be non-negative");
    writeUintLE(out, off, SIGNATURE_COMPONENT_SIZE, v);
  }
  return out;
}

/** SNP signature field → DER `SEQUENCE { INTEGER r, INTEGER s }`. */
export function signatureToDer(sigField: Uint8Array): Uint8Array {
  const { r, s } = signatureToRS(sigField);
  const body = [...derInteger(r), ...derInteger(s)];
  return new Uint8Array([0x30, ...derLength(body.length), ...body]);
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → SNP signature field. Strict DER; throws DecodeError. */
export function derToSignatureField(der: Uint8Array): Uint8Array {
  const bad = (why: string, offset: number): DecodeError =>
    new DecodeError("BAD_DER", `ECDSA DER signature: ${why}`, { field: "signature", offset });
  let p = 0;
  const byte = (): number => {
    const b = der[p];
    if (b === undefined) throw bad("truncated", p);
    p++;
    return b;
  };
  const length = (): number => {
    const at = p;
    const first = byte();
    if (first < 0x80) return first;
    if (first === 0x81) {
      const n = byte();
      if (n < 0x80) throw bad("non-minimal length", at);
      return n;
    }
    throw bad("unsupported length form", at);
  };
  if (byte() !== 0x30) throw bad("expected SEQUENCE", 0);
  const seqLen = length();
  if (p + seqLen !== der.length) throw bad("SEQUENCE length does not match input", 1);
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    const at = p;
    if (byte() !== 0x02) throw bad("expected INTEGER", at);
    const n = length();
    if (n === 0) throw bad("empty INTEGER", at);
    if (p + n > der.length) throw bad("INTEGER past end", at);
    const c = der.subarray(p, p + n);
    if ((c[0]! & 0x80) !== 0) throw bad("negative INTEGER", at);
    if (n > 1 && c[0] === 0 && (c[1]! & 0x80) === 0) throw bad("non-minimal INTEGER", at);
    const mag = c[0] === 0 ? c.subarray(1) : c;
    if (mag.length > SIGNATURE_COMPONENT_SIZE) throw bad("INTEGER wider than 72 bytes", at);
    let v = 0n;
    for (const x of mag) v = (v << 8n) | BigInt(x);
    ints.push(v);
    p += n;
  }
  if (p !== der.length) throw bad("trailing bytes", p);
  return signatureFromRS({ r: ints[0]!, s: ints[1]! });
}

function derInteger(v: bigint): number[] {
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = "0" + hex;
  const mag = [...Buffer.from(hex, "hex")];
  if ((mag[0]! & 0x80) !== 0) mag.unshift(0);
  return [0x02, ...derLength(mag.length), ...mag];
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n <= 0xff) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}
