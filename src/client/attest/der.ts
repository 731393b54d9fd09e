/**
 * A small, bounded DER reader for the parts of X.509 the verifier needs (certificate
 * skeleton, names, validity, extensions, RSASSA-PSS parameters, AMD's extensions).
 * Untrusted bytes: every length is checked against its parent, only definite minimal
 * lengths and single-byte tags are accepted (DER), and the only error thrown is
 * `DerError` (a DecodeError).
 */
import { DecodeError } from "../../shared/base/index.js";

export class DerError extends DecodeError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("DER_MALFORMED", message, details);
  }
}

/** Universal tags (class 0) used here. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** `[n]` context-specific constructed tag (EXPLICIT wrappers). */
export const ctx = (n: number): number => 0xa0 | n;

/** One TLV inside a buffer. */
export interface DerNode {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
  readonly buf: Uint8Array;
}

export const contents = (n: DerNode): Uint8Array => n.buf.subarray(n.contentStart, n.end);
/** The whole TLV (tag, length, contents). */
export const encoded = (n: DerNode): Uint8Array => n.buf.subarray(n.start, n.end);

/** Reads one TLV at `off`, bounded by `limit`. */
export function readNode(buf: Uint8Array, off: number, limit: number): DerNode {
  if (off + 2 > limit) throw new DerError("truncated TLV header", { offset: off });
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not used here", { offset: off, tag });
  let len = buf[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError("indefinite length is not DER", { offset: off });
    if (n > 4) throw new DerError("length of length too large", { offset: off, n });
    if (p + n > limit) throw new DerError("truncated length", { offset: off });
    if (buf[p] === 0) throw new DerError("non-minimal length encoding", { offset: off });
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80) throw new DerError("non-minimal length encoding", { offset: off });
    p += n;
  }
  if (p + len > limit) throw new DerError("content runs past its container", { offset: off, length: len, limit });
  return { tag, start: off, contentStart: p, end: p + len, buf };
}

/** Sequential reader over the contents of a constructed node (or a whole buffer). */
export class DerReader {
  #pos: number;
  readonly #end: number;
  readonly #buf: Uint8Array;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  static of(node: DerNode): DerReader {
    return new DerReader(node.buf, node.contentStart, node.end);
  }

  atEnd(): boolean {
    return this.#pos >= this.#end;
  }

  peekTag(): number | undefined {
    return this.atEnd() ? undefined : this.#buf[this.#pos];
  }

  next(expectTag?: number, what = "element"): DerNode {
    if (this.atEnd()) throw new DerError(`missing ${what}`, { offset: this.#pos });
    const n = readNode(this.#buf, this.#pos, this.#end);
    if (expectTag !== undefined && n.tag !== expectTag) {
      throw new DerError(`${what}: expected tag 0x${expectTag.toString(16)}, got 0x${n.tag.toString(16)}`, {
        offset: n.start,
        expected: expectTag,
        actual: n.tag,
      });
    }
    this.#pos = n.end;
    return n;
  }

  /** Reads the next element only if it has `tag`. */
  optional(tag: number): DerNode | undefined {
    return this.peekTag() === tag ? this.next(tag) : undefined;
  }

  done(what = "container"): void {
    if (!this.atEnd()) throw new DerError(`trailing data in ${what}`, { offset: this.#pos });
  }
}

/** Parses a complete DER value that must fill `buf` exactly. */
export function parseDer(buf: Uint8Array, expectTag?: number, what = "value"): DerNode {
  const r = new DerReader(buf);
  const n = r.next(expectTag, what);
  r.done(what);
  return n;
}

export function readOid(n: DerNode): string {
  if (n.tag !== TAG.OID) throw new DerError("expected OBJECT IDENTIFIER", { offset: n.start });
  const c = contents(n);
  if (c.length === 0 || c.length > 64) throw new DerError("bad OID length", { offset: n.start });
  const arcs: number[] = [];
  let v = 0;
  let started = false;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (!started && b === 0x80) throw new DerError("non-minimal OID arc", { offset: n.start });
    started = true;
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large", { offset: n.start });
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
      started = false;
    } else if (i === c.length - 1) {
      throw new DerError("truncated OID arc", { offset: n.start });
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** A non-negative DER INTEGER as bigint (minimal encoding enforced). */
export function readUnsignedInteger(n: DerNode): bigint {
  if (n.tag !== TAG.INTEGER) throw new DerError("expected INTEGER", { offset: n.start, tag: n.tag });
  const c = contents(n);
  if (c.length === 0) throw new DerError("empty INTEGER", { offset: n.start });
  if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0))) {
    throw new DerError("non-minimal INTEGER", { offset: n.start });
  }
  if (c[0]! & 0x80) throw new DerError("negative INTEGER where a non-negative one is required", { offset: n.start });
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  return v;
}

/** A small non-negative INTEGER as a number (rejects values above 2^32). */
export function readSmallInteger(n: DerNode): number {
  const v = readUnsignedInteger(n);
  if (v > 0xffff_ffffn) throw new DerError("INTEGER too large", { offset: n.start });
  return Number(v);
}

export function readBoolean(n: DerNode): boolean {
  const c = contents(n);
  if (n.tag !== TAG.BOOLEAN || c.length !== 1) throw new DerError("expected BOOLEAN", { offset: n.start });
  if (c[0] === 0xff) return true;
  if (c[0] === 0x00) return false;
  throw new DerError("BOOLEAN must be 0x00 or 0xFF in DER", { offset: n.start });
}

/** BIT STRING with its unused-bit count. */
export function readBitString(n: DerNode): { unused: number; bytes: Uint8Array } {
  const c = contents(n);
  if (n.tag !== TAG.BIT_STRING || c.length === 0) throw new DerError("expected BIT STRING", { offset: n.start });
  const unused = c[0]!;
  if (unused > 7 || (c.length === 1 && unused !== 0)) throw new DerError("bad BIT STRING padding", { offset: n.start });
  return { unused, bytes: c.subarray(1) };
}

const STRING_TAGS: ReadonlySet<number> = new Set([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING]);

/** IA5String / PrintableString / UTF8String as text. */
export function readString(n: DerNode): string {
  if (!STRING_TAGS.has(n.tag)) throw new DerError("expected a string", { offset: n.start, tag: n.tag });
  const c = contents(n);
  if (n.tag !== TAG.UTF8_STRING) {
    for (const b of c) if (b > 0x7f) throw new DerError("non-ASCII byte in an ASCII string", { offset: n.start });
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(c);
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) → ms since epoch. */
export function readTime(n: DerNode): number {
  const s = new TextDecoder().decode(contents(n));
  let m: RegExpExecArray | null;
  let year: number;
  let rest: string;
  if (n.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{10})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = m[2]!;
  } else if (n.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{10})Z$/.exec(s))) {
    year = Number(m[1]);
    rest = m[2]!;
  } else {
    throw new DerError("bad UTCTime/GeneralizedTime", { offset: n.start, value: s.slice(0, 32) });
  }
  const [mo, d, h, mi, se] = [0, 2, 4, 6, 8].map((i) => Number(rest.slice(i, i + 2))) as [number, number, number, number, number];
  const t = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(t);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw new DerError("time out of range", { offset: n.start, value: s });
  }
  return t;
}
