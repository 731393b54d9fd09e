/**
 * JSON for ISF documents.
 *
 * `parseJson` is a strict RFC 8259 parser for untrusted text that keeps integers exact:
 * ISF symbol addresses such as 18446744071578845184 do not fit a double, so an integer
 * literal outside ±(2^53−1) becomes a bigint (others stay numbers). Objects are plain
 * objects (fast to build); a "__proto__" key becomes an ordinary own property, and since
 * names such as "constructor" are inherited, readers must test keys with own-property
 * checks (isf-types.ts `hasKey`). Duplicate keys, nesting deeper than `maxDepth`, and any
 * syntax error raise `DecodeError` (code JSON_SYNTAX / JSON_DUPLICATE_KEY /
 * JSON_TOO_DEEP) with the position.
 *
 * `stringifyJson` writes deterministic JSON: object keys sorted (code-unit order, which
 * is byte order for ASCII keys), bigints as integer literals, and one entry per line for
 * the first `lineDepth` levels of objects, compact below — so regenerating a document
 * gives identical bytes and diffs of uncompressed output stay readable.
 */
import { DecodeError } from "../base/index.js";

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ParseJsonOptions {
  /** Maximum nesting of arrays/objects (default 64). */
  readonly maxDepth?: number;
}

const hasOwn = Object.prototype.hasOwnProperty;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const WS = new Uint8Array(128);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

class Parser {
  readonly s: string;
  pos = 0;
  readonly maxDepth: number;

  constructor(s: string, maxDepth: number) {
    this.s = s;
    this.maxDepth = maxDepth;
  }

  fail(what: string, code = "JSON_SYNTAX"): never {
    const before = this.s.slice(0, this.pos);
    const line = before.split("\n").length;
    const column = this.pos - before.lastIndexOf("\n");
    throw new DecodeError(code, `JSON: ${what} at line ${line} column ${column}`, { position: this.pos, line, column });
  }

  ws(): void {
    const s = this.s;
    let p = this.pos;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c < 128 && WS[c] === 1) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    this.ws();
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal("true", true);
      case 0x66: // f
        return this.literal("false", false);
      case 0x6e: // n
        return this.literal("null", null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(Number.isNaN(c) ? "unexpected end of input" : `unexpected character ${JSON.stringify(this.s[this.pos])}`);
    }
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail(`invalid literal`);
    this.pos += word.length;
    return v;
  }

  object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`, "JSON_TOO_DEEP");
    this.pos++; // {
    const out: JsonObject = {};
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail("expected a string key");
      const keyPos = this.pos;
      const key = this.string();
      if (hasOwn.call(out, key)) {
        this.pos = keyPos;
        this.fail(`duplicate key ${JSON.stringify(key.slice(0, 80))}`, "JSON_DUPLICATE_KEY");
      }
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      const v = this.value(depth);
      if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`, "JSON_TOO_DEEP");
    this.pos++; // [
    const out: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const s = this.s;
    let p = this.pos + 1;
    const start = p;
    // Fast path: no escapes.
    for (;;) {
      if (p >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return s.slice(start, p);
      }
      if (c === 0x5c) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail("control character in string");
      }
      p++;
    }
    let out = s.slice(start, p);
    for (;;) {
      if (p >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return out;
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail("control character in string");
      }
      if (c !== 0x5c) {
        out += s[p];
        p++;
        continue;
      }
      const e = s[p + 1];
      p += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const h = s.slice(p, p + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) {
            this.pos = p;
            this.fail("bad \\u escape");
          }
          out += String.fromCharCode(parseInt(h, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p - 2;
          this.fail("bad escape");
      }
    }
  }

  number(): number | bigint {
    const s = this.s;
    const start = this.pos;
    let p = start;
    const neg = s.charCodeAt(p) === 0x2d;
    if (neg) p++;
    const intStart = p;
    let c = s.charCodeAt(p);
    let acc = 0; // exact while there are at most 15 digits
    if (c === 0x30) p++;
    else if (c >= 0x31 && c <= 0x39) {
      while (c >= 0x30 && c <= 0x39) {
        acc = acc * 10 + (c - 0x30);
        c = s.charCodeAt(++p);
      }
    } else {
      this.pos = p;
      this.fail("bad number");
    }
    let integer = true;
    if (s.charCodeAt(p) === 0x2e) {
      integer = false;
      p++;
      const d = p;
      while (s.charCodeAt(p) >= 0x30 && s.charCodeAt(p) <= 0x39) p++;
      if (p === d) {
        this.pos = p;
        this.fail("bad number");
      }
    }
    const e = s.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      p++;
      const sign = s.charCodeAt(p);
      if (sign === 0x2b || sign === 0x2d) p++;
      const d = p;
      while (s.charCodeAt(p) >= 0x30 && s.charCodeAt(p) <= 0x39) p++;
      if (p === d) {
        this.pos = p;
        this.fail("bad number");
      }
    }
    this.pos = p;
    if (integer) {
      if (p - intStart <= 15) return neg ? -acc : acc;
      const b = BigInt(s.slice(start, p));
      if (b > MAX_SAFE || b < MIN_SAFE) return b;
      return Number(b);
    }
    return Number(s.slice(start, p));
  }
}

/** Parses untrusted JSON text (see the file comment). */
export function parseJson(text: string, options: ParseJsonOptions = {}): JsonValue {
  const p = new Parser(text, options.maxDepth ?? 64);
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail("trailing characters after the JSON value");
  return v;
}

// ---------------------------------------------------------------------------------------

/** Anything stringifyJson accepts: JSON values with plain objects, optional keys skipped. */
export type JsonInput = null | boolean | number | bigint | string | readonly JsonInput[] | { readonly [k: string]: JsonInput | undefined };

export interface StringifyOptions {
  /** Objects nested up to this depth put each entry on its own line (default 2). */
  readonly lineDepth?: number;
}

/** Deterministic JSON text ending in a newline (see the file comment). */
export function stringifyJson(value: JsonInput, options: StringifyOptions = {}): string {
  const parts: string[] = [];
  write(value, 0, options.lineDepth ?? 2, parts);
  parts.push("\n");
  return parts.join("");
}

function write(v: JsonInput, depth: number, lineDepth: number, out: string[]): void {
  if (v === null) out.push("null");
  else if (typeof v === "string") out.push(JSON.stringify(v));
  else if (typeof v === "bigint") out.push(v.toString());
  else if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new RangeError("stringifyJson: non-finite number");
    out.push(Object.is(v, -0) ? "0" : String(v));
  } else if (typeof v === "boolean") out.push(v ? "true" : "false");
  else if (Array.isArray(v)) {
    const a = v as readonly JsonInput[];
    out.push("[");
    for (let i = 0; i < a.length; i++) {
      if (i > 0) out.push(",");
      write(a[i]!, depth + 1, lineDepth, out);
    }
    out.push("]");
  } else {
    const o = v as { readonly [k: string]: JsonInput | undefined };
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort(compareKeys);
    const nl = depth < lineDepth && keys.length > 0;
    out.push(nl ? "{\n" : "{");
    keys.forEach((k, i) => {
      if (i > 0) out.push(nl ? ",\n" : ",");
      out.push(JSON.stringify(k), ":");
      write(o[k]!, depth + 1, lineDepth, out);
    });
    out.push(nl ? "\n}" : "}");
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
