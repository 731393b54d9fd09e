/**
 * The ISF profile backend: bytes (plain JSON or gzip, told apart by the gzip magic) →
 * strict JSON parse (json.ts) → strict validation (isf-validate.ts) → profile.
 * The input is untrusted: every failure is a `DecodeError` (ISF_TOO_LARGE, ISF_GZIP,
 * ISF_UTF8, JSON_*, ISF_INVALID), and decompression is capped.
 */
import { gunzipSync } from "node:zlib";
import { DecodeError } from "../base/index.js";
import { hasKey, type IsfBaseType, type IsfDocument, type IsfEnum, type IsfTypeDesc, type IsfUserType } from "./isf-types.js";
import { validateIsf } from "./isf-validate.js";
import { parseJson } from "./json.js";
import { KernelProfile, type Profile, type TypeSource } from "./profile.js";
import { SymbolIndex, type SymbolTable } from "./symbol-index.js";

export interface DecodeIsfOptions {
  /** Largest JSON text accepted, after decompression (default 512 MiB). */
  readonly maxBytes?: number;
}

const DEFAULT_MAX = 512 * 1024 * 1024;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decodes and validates an ISF document from JSON text or (gzipped) bytes. */
export function decodeIsf(input: Uint8Array | string, options: DecodeIsfOptions = {}): IsfDocument {
  const max = options.maxBytes ?? DEFAULT_MAX;
  let text: string;
  if (typeof input === "string") {
    if (input.length > max) throw new DecodeError("ISF_TOO_LARGE", `ISF text of ${input.length} characters exceeds ${max}`, { size: input.length, max });
    text = input;
  } else {
    let bytes = input;
    if (isGzip(bytes)) {
      try {
        bytes = gunzipSync(bytes, { maxOutputLength: max });
      } catch (e) {
        const tooLarge = e instanceof RangeError || (e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE";
        throw tooLarge
          ? new DecodeError("ISF_TOO_LARGE", `gzipped ISF expands past ${max} bytes`, { max })
          : new DecodeError("ISF_GZIP", `ISF gzip stream is corrupt: ${(e as Error).message}`, { reason: (e as Error).message });
      }
    }
    if (bytes.length > max) throw new DecodeError("ISF_TOO_LARGE", `ISF of ${bytes.length} bytes exceeds ${max}`, { size: bytes.length, max });
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new DecodeError("ISF_UTF8", "ISF is not valid UTF-8", {});
    }
  }
  return validateIsf(parseJson(text));
}

function banner(doc: IsfDocument): string | undefined {
  if (!hasKey(doc.symbols, "linux_banner")) return undefined;
  const cd = doc.symbols["linux_banner"]!.constant_data;
  if (cd === undefined) return undefined;
  const bytes = Buffer.from(cd, "base64");
  const nul = bytes.indexOf(0);
  return new TextDecoder("utf-8", { fatal: false }).decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** The document's symbols as a name → bigint table, converting on access (no copy). */
class IsfSymbolTable implements SymbolTable {
  readonly #symbols: IsfDocument["symbols"];
  readonly size: number;
  constructor(symbols: IsfDocument["symbols"]) {
    this.#symbols = symbols;
    this.size = Object.keys(symbols).length;
  }
  get(name: string): bigint | undefined {
    return hasKey(this.#symbols, name) ? BigInt(this.#symbols[name]!.address) : undefined;
  }
  keys(): IterableIterator<string> {
    return Object.keys(this.#symbols)[Symbol.iterator]();
  }
  *entries(): IterableIterator<[string, bigint]> {
    for (const n of Object.keys(this.#symbols)) yield [n, BigInt(this.#symbols[n]!.address)];
  }
}

class IsfSource implements TypeSource {
  readonly kind = "isf" as const;
  readonly doc: IsfDocument;
  readonly symbols: SymbolIndex;
  readonly banner: string | undefined;

  constructor(doc: IsfDocument) {
    this.doc = doc;
    this.symbols = new SymbolIndex(new IsfSymbolTable(doc.symbols));
    this.banner = banner(doc);
  }

  userType(name: string): IsfUserType | undefined {
    return hasKey(this.doc.user_types, name) ? this.doc.user_types[name] : undefined;
  }
  baseType(name: string): IsfBaseType | undefined {
    return hasKey(this.doc.base_types, name) ? this.doc.base_types[name] : undefined;
  }
  enumType(name: string): IsfEnum | undefined {
    return hasKey(this.doc.enums, name) ? this.doc.enums[name] : undefined;
  }
  userTypeNames(): Iterable<string> {
    return Object.keys(this.doc.user_types);
  }
  enumNames(): Iterable<string> {
    return Object.keys(this.doc.enums);
  }
  symbolType(name: string): IsfTypeDesc | undefined {
    return hasKey(this.doc.symbols, name) ? this.doc.symbols[name]!.type : undefined;
  }
}

/** A profile over an already-validated ISF document. */
export function isfProfile(doc: IsfDocument): Profile {
  return new KernelProfile(new IsfSource(doc));
}

/** Decodes, validates and wraps an ISF document (JSON text, or bytes plain or gzipped). */
export function loadIsfProfile(input: Uint8Array | string, options: DecodeIsfOptions = {}): Profile {
  return isfProfile(decodeIsf(input, options));
}
