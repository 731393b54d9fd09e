/**
 * Strict validation of an untrusted ISF document (schema 6.x, volatility3
 * schemas/schema-6.3.0.json) after JSON parsing. Every failure is a `DecodeError` with
 * code ISF_INVALID and `details.path` naming the bad element, e.g.
 * `user_types["task_struct"].fields["tasks"].type.subtype.name`.
 *
 * Beyond the schema (required keys, no unknown keys, value kinds and patterns) it checks
 * what consumers rely on:
 * - names resolve: base types always; structs/unions/enums referenced by value must be
 *   defined (with the same kind). Under a pointer a struct/enum may be undefined (an
 *   opaque pointer, as dwarf2json writes for declared-only types); asking the profile for
 *   such a type's size then fails with ProfileError UNKNOWN_TYPE.
 * - layout: sizes, counts and offsets are non-negative integers; every field lies inside
 *   its struct; a bitfield lies inside its storage type and its struct; array sizes do
 *   not overflow 2^32 bytes.
 * - symbols: addresses are integers in [0, 2^64); constant_data is base64.
 */
import { DecodeError } from "../base/index.js";
import { hasKey, type IsfBaseType, type IsfDocument, type IsfEnum, type IsfSymbol, type IsfTypeDesc, type IsfUserType } from "./isf-types.js";
import type { JsonObject, JsonValue } from "./json.js";

const U32_MAX = 0xffffffff;
const U64_LIMIT = 1n << 64n;
const I64_MIN = -(1n << 63n);
const BASE_KINDS = new Set(["void", "int", "float", "char", "bool"]);
const USER_KINDS = new Set(["struct", "union", "class"]);
const SOURCE_KINDS = new Set(["dwarf", "symtab", "system-map"]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function fail(path: string, reason: string): never {
  throw new DecodeError("ISF_INVALID", `ISF ${path}: ${reason}`, { path, reason });
}

function key(path: string, k: string): string {
  if (IDENT.test(k)) return path === "" ? k : `${path}.${k}`;
  return `${path}[${JSON.stringify(k.length > 80 ? k.slice(0, 80) + "…" : k)}]`;
}
function entry(path: string, name: string): string {
  return `${path}[${JSON.stringify(name.length > 80 ? name.slice(0, 80) + "…" : name)}]`;
}

function describe(v: JsonValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function obj(v: JsonValue | undefined, path: string): JsonObject {
  if (v === undefined) fail(path, "is missing");
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(path, `must be an object, not ${describe(v)}`);
  return v as JsonObject;
}

function shape(o: JsonObject, path: string, required: readonly string[], optional: readonly string[] = []): void {
  for (const k of required) if (!hasKey(o, k)) fail(key(path, k), "is missing");
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) fail(key(path, k), "is not allowed here");
}

function str(v: JsonValue | undefined, path: string): string {
  if (typeof v !== "string") fail(path, v === undefined ? "is missing" : `must be a string, not ${describe(v)}`);
  return v;
}

function bool(v: JsonValue | undefined, path: string): boolean {
  if (typeof v !== "boolean") fail(path, `must be a boolean, not ${v === undefined ? "missing" : describe(v)}`);
  return v;
}

function int(v: JsonValue | undefined, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) fail(path, `must be an integer, not ${v === undefined ? "missing" : describe(v)}`);
  if (v < min || v > max) fail(path, `${v} is out of range [${min}, ${max}]`);
  return v;
}

function bigInt(v: JsonValue | undefined, path: string, min: bigint, limit: bigint): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
  else fail(path, `must be an integer, not ${v === undefined ? "missing" : describe(v)}`);
  if (b < min || b >= limit) fail(path, `${b} is out of range`);
  return b;
}

class Validator {
  readonly bases: Record<string, IsfBaseType>;
  readonly users: JsonObject;
  readonly enums: JsonObject;
  readonly sizes = new Map<string, number>();
  readonly enumSizes = new Map<string, number>();

  constructor(bases: Record<string, IsfBaseType>, users: JsonObject, enums: JsonObject) {
    this.bases = bases;
    this.users = users;
    this.enums = enums;
  }

  /** Validates a type descriptor; `byValue` is false under a pointer. */
  desc(v: JsonValue | undefined, path: string, byValue: boolean, depth: number): IsfTypeDesc {
    if (depth > 64) fail(path, "nests too deeply");
    const o = obj(v, path);
    const kind = str(o["kind"], key(path, "kind"));
    switch (kind) {
      case "base": {
        shape(o, path, ["kind", "name"]);
        const name = str(o["name"], key(path, "name"));
        if (!hasKey(this.bases, name)) fail(key(path, "name"), `base type ${JSON.stringify(name)} is not in base_types`);
        break;
      }
      case "pointer":
        shape(o, path, ["kind", "subtype"], ["base"]);
        if (hasKey(o, "base")) {
          const b = str(o["base"], key(path, "base"));
          if (!hasKey(this.bases, b)) fail(key(path, "base"), `base type ${JSON.stringify(b)} is not in base_types`);
        }
        this.desc(o["subtype"], key(path, "subtype"), false, depth + 1);
        break;
      case "array":
        shape(o, path, ["kind", "count", "subtype"]);
        int(o["count"], key(path, "count"), 0, U32_MAX);
        this.desc(o["subtype"], key(path, "subtype"), byValue, depth + 1);
        break;
      case "struct":
      case "union":
      case "class": {
        shape(o, path, ["kind", "name"]);
        const name = str(o["name"], key(path, "name"));
        if (hasKey(this.users, name)) {
          const actual = (this.users[name] as JsonObject)["kind"];
          if (actual !== kind && !(kind !== "union" && actual !== "union")) {
            fail(key(path, "kind"), `${name} is a ${String(actual)}, not a ${kind}`);
          }
        } else if (byValue) fail(key(path, "name"), `user type ${JSON.stringify(name)} is not in user_types`);
        break;
      }
      case "enum": {
        shape(o, path, ["kind", "name"]);
        const name = str(o["name"], key(path, "name"));
        if (byValue && !hasKey(this.enums, name)) fail(key(path, "name"), `enum ${JSON.stringify(name)} is not in enums`);
        break;
      }
      case "function":
        shape(o, path, ["kind"]);
        break;
      case "bitfield": {
        shape(o, path, ["kind", "bit_position", "bit_length", "type"]);
        const pos = int(o["bit_position"], key(path, "bit_position"), 0, 1023);
        const len = int(o["bit_length"], key(path, "bit_length"), 1, 128);
        const t = this.desc(o["type"], key(path, "type"), true, depth + 1);
        if (t.kind === "base") {
          const k = this.bases[t.name]!.kind;
          if (k !== "int" && k !== "char" && k !== "bool") fail(key(path, "type"), `a bitfield of ${k} is not allowed`);
        } else if (t.kind !== "enum") fail(key(path, "type"), `must be a base or enum type, not ${t.kind}`);
        if (pos + len > this.size(t, key(path, "type")) * 8) fail(path, `bits ${pos}..${pos + len} do not fit in the storage type`);
        break;
      }
      default:
        fail(key(path, "kind"), `unknown type kind ${JSON.stringify(kind.slice(0, 40))}`);
    }
    return o as unknown as IsfTypeDesc;
  }

  /** Size of a validated by-value descriptor (at most 2^32 − 1 bytes). */
  size(d: IsfTypeDesc, path: string): number {
    let mult = 1;
    let cur = d;
    for (;;) {
      let unit: number;
      switch (cur.kind) {
        case "base":
          unit = this.bases[cur.name]!.size;
          break;
        case "pointer":
          unit = hasKey(this.bases, "pointer") ? this.bases["pointer"]!.size : 8;
          break;
        case "array":
          mult *= cur.count;
          cur = cur.subtype;
          continue;
        case "struct":
        case "union":
        case "class":
          unit = this.sizes.get(cur.name)!;
          break;
        case "enum":
          unit = this.enumSizes.get(cur.name)!;
          break;
        case "function":
          unit = 0;
          break;
        case "bitfield":
          cur = cur.type;
          continue;
      }
      const total = unit * mult;
      if (total > U32_MAX) fail(path, "size overflows 2^32 bytes");
      return total;
    }
  }
}

function baseType(v: JsonValue | undefined, path: string): IsfBaseType {
  const o = obj(v, path);
  shape(o, path, ["size", "signed", "kind", "endian"]);
  int(o["size"], key(path, "size"), 0, 64);
  bool(o["signed"], key(path, "signed"));
  const kind = str(o["kind"], key(path, "kind"));
  if (!BASE_KINDS.has(kind)) fail(key(path, "kind"), `unknown base kind ${JSON.stringify(kind.slice(0, 40))}`);
  const endian = str(o["endian"], key(path, "endian"));
  if (endian !== "little" && endian !== "big") fail(key(path, "endian"), `must be "little" or "big"`);
  return o as unknown as IsfBaseType;
}

function sourceList(v: JsonValue | undefined, path: string): void {
  if (!Array.isArray(v)) fail(path, `must be an array, not ${v === undefined ? "missing" : describe(v)}`);
  v.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const o = obj(item, p);
    shape(o, p, [], ["kind", "name", "hash_type", "hash_value"]);
    if (hasKey(o, "kind") && !SOURCE_KINDS.has(str(o["kind"], key(p, "kind")))) fail(key(p, "kind"), "must be dwarf, symtab or system-map");
    if (hasKey(o, "name")) str(o["name"], key(p, "name"));
    if (hasKey(o, "hash_type") && str(o["hash_type"], key(p, "hash_type")) !== "sha256") fail(key(p, "hash_type"), 'must be "sha256"');
    if (hasKey(o, "hash_value") && !/^[a-fA-F0-9]+$/.test(str(o["hash_value"], key(p, "hash_value")))) fail(key(p, "hash_value"), "must be hex");
  });
}

function metadata(v: JsonValue | undefined): void {
  const path = "metadata";
  const o = obj(v, path);
  shape(o, path, ["format"], ["producer", "linux", "mac", "windows"]);
  const format = str(o["format"], "metadata.format");
  if (!/^6\.[0-9]+\.[0-9]+$/.test(format)) fail("metadata.format", `unsupported ISF format ${JSON.stringify(format.slice(0, 40))} (need 6.x.y)`);
  const platforms = ["linux", "mac", "windows"].filter((k) => hasKey(o, k));
  if (platforms.length > 1) fail(path, `has more than one of ${platforms.join(", ")}`);
  if (hasKey(o, "producer")) {
    const p = obj(o["producer"], "metadata.producer");
    shape(p, "metadata.producer", ["name", "version"], ["datetime"]);
    str(p["name"], "metadata.producer.name");
    if (!/^[0-9]+.[0-9]+.[0-9]+$/.test(str(p["version"], "metadata.producer.version"))) fail("metadata.producer.version", "must look like 1.2.3");
    if (hasKey(p, "datetime")) str(p["datetime"], "metadata.producer.datetime");
  }
  for (const plat of ["linux", "mac"]) {
    if (!hasKey(o, plat)) continue;
    const p = obj(o[plat], `metadata.${plat}`);
    shape(p, `metadata.${plat}`, [], ["symbols", "types"]);
    if (hasKey(p, "symbols")) sourceList(p["symbols"], `metadata.${plat}.symbols`);
    if (hasKey(p, "types")) sourceList(p["types"], `metadata.${plat}.types`);
  }
  if (hasKey(o, "windows")) {
    const w = obj(o["windows"], "metadata.windows");
    shape(w, "metadata.windows", [], ["pe", "pdb"]);
    if (hasKey(w, "pe")) obj(w["pe"], "metadata.windows.pe");
    if (hasKey(w, "pdb")) obj(w["pdb"], "metadata.windows.pdb");
  }
}

/** Validates parsed JSON as an ISF document (see the file comment). */
export function validateIsf(root: JsonValue): IsfDocument {
  const top = obj(root, "(document)");
  for (const k of ["metadata", "base_types", "user_types", "enums", "symbols"]) if (!hasKey(top, k)) fail(k, "is missing");
  shape(top, "", ["metadata", "base_types", "user_types", "enums", "symbols"]);
  metadata(top["metadata"]);

  const basesIn = obj(top["base_types"], "base_types");
  for (const [n, b] of Object.entries(basesIn)) baseType(b, entry("base_types", n));
  const bases = basesIn as unknown as Record<string, IsfBaseType>;
  const users = obj(top["user_types"], "user_types");
  const enums = obj(top["enums"], "enums");
  const V = new Validator(bases, users, enums);

  for (const [n, e] of Object.entries(enums)) {
    const p = entry("enums", n);
    const o = obj(e, p);
    shape(o, p, ["size", "base", "constants"]);
    V.enumSizes.set(n, int(o["size"], key(p, "size"), 0, 16));
    const b = str(o["base"], key(p, "base"));
    if (!hasKey(bases, b)) fail(key(p, "base"), `base type ${JSON.stringify(b)} is not in base_types`);
    const c = obj(o["constants"], key(p, "constants"));
    for (const cn of Object.keys(c)) {
      const cv = c[cn];
      if (typeof cv === "number" && Number.isInteger(cv)) continue; // always within range
      bigInt(cv, entry(key(p, "constants"), cn), I64_MIN, U64_LIMIT);
    }
  }

  // Kinds and sizes first: field checks need the sizes of embedded types.
  for (const [n, u] of Object.entries(users)) {
    const p = entry("user_types", n);
    const o = obj(u, p);
    shape(o, p, ["kind", "size", "fields"]);
    const kind = str(o["kind"], key(p, "kind"));
    if (!USER_KINDS.has(kind)) fail(key(p, "kind"), `must be struct, union or class, not ${JSON.stringify(kind.slice(0, 40))}`);
    V.sizes.set(n, int(o["size"], key(p, "size"), 0, U32_MAX));
    obj(o["fields"], key(p, "fields"));
  }
  for (const [n, u] of Object.entries(users)) {
    const p = key(entry("user_types", n), "fields");
    const size = V.sizes.get(n)!;
    for (const [fn, fv] of Object.entries((u as JsonObject)["fields"] as JsonObject)) {
      const fp = entry(p, fn);
      const f = obj(fv, fp);
      shape(f, fp, ["type", "offset"], ["anonymous"]);
      const offset = int(f["offset"], key(fp, "offset"), 0, size);
      if (hasKey(f, "anonymous")) bool(f["anonymous"], key(fp, "anonymous"));
      const t = V.desc(f["type"], key(fp, "type"), true, 0);
      if (t.kind === "bitfield") {
        const endBits = offset * 8 + t.bit_position + t.bit_length;
        if (endBits > size * 8) fail(fp, `bitfield ends at bit ${endBits}, past the end of ${n} (${size} bytes)`);
      } else {
        const end = offset + V.size(t, key(fp, "type"));
        if (end > size) fail(fp, `ends at byte ${end}, past the end of ${n} (${size} bytes)`);
      }
    }
  }

  const symbols = obj(top["symbols"], "symbols");
  for (const n of Object.keys(symbols)) {
    const o = symbols[n];
    // Fast path for the common entry, {"address": N}; anything else takes the full check.
    if (o !== null && typeof o === "object" && !Array.isArray(o)) {
      const a = o["address"];
      let nkeys = 0;
      for (const k in o) if (hasKey(o, k)) nkeys++;
      const only = nkeys === 1;
      if (only && typeof a === "number" && Number.isSafeInteger(a) && a >= 0) continue;
      if (only && typeof a === "bigint" && a >= 0n && a < U64_LIMIT) continue;
    }
    symbol(V, o, entry("symbols", n));
  }

  return {
    metadata: top["metadata"] as unknown as IsfDocument["metadata"],
    base_types: bases,
    user_types: users as unknown as Record<string, IsfUserType>,
    enums: enums as unknown as Record<string, IsfEnum>,
    symbols: symbols as unknown as Record<string, IsfSymbol>,
  };
}

function symbol(V: Validator, v: JsonValue | undefined, p: string): void {
  const o = obj(v, p);
  shape(o, p, ["address"], ["type", "constant_data", "linkage_name"]);
  bigInt(o["address"], key(p, "address"), 0n, U64_LIMIT);
  if (hasKey(o, "type")) V.desc(o["type"], key(p, "type"), true, 0);
  if (hasKey(o, "constant_data") && !BASE64.test(str(o["constant_data"], key(p, "constant_data")))) fail(key(p, "constant_data"), "must be base64");
  if (hasKey(o, "linkage_name")) str(o["linkage_name"], key(p, "linkage_name"));
}
