/**
 * Spec layouts as data. A Layout is a table of `{name, offset, size, type}` rows copied
 * from a specification table; the same table drives `parse` and `serialize`, so the two
 * round-trip by construction, and tests check the offsets against numbers copied by hand
 * from the spec (../../../../shared/spec/SNP.md).
 *
 * Types: u8/u16/u32/u64 are little-endian integers (u64 → bigint); "bytes" is a raw
 * Uint8Array copy; "mbz" is a reserved range that must be zero (checked by `parse` when
 * `strict`, written as zeros by `serialize`, absent from the parsed object).
 */
import { DecodeError, readU8, readU16, readU32, readU64, writeU8, writeU16, writeU32, writeU64 } from "../base/index.js";

export type FieldType = "u8" | "u16" | "u32" | "u64" | "bytes" | "mbz";

export interface FieldSpec {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
  /** Free text: meaning, spec note. */
  readonly note?: string;
}

type ValueOf<T extends FieldType> = T extends "u64" ? bigint : T extends "bytes" ? Uint8Array : number;

/** The parsed object type of a field table (mbz rows are left out). */
export type Parsed<F extends readonly FieldSpec[]> = {
  -readonly [K in F[number] as K["type"] extends "mbz" ? never : K["name"]]: ValueOf<K["type"]>;
};

const SIZES: Record<Exclude<FieldType, "bytes" | "mbz">, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

export interface ParseOptions {
  /** Check that every mbz range is zero (default true). */
  readonly strict?: boolean;
}

export class Layout<F extends readonly FieldSpec[]> {
  readonly name: string;
  readonly size: number;
  readonly source: string;
  readonly fields: F;
  readonly #byName: Map<string, FieldSpec>;

  constructor(def: { name: string; size: number; source: string; fields: F }) {
    this.name = def.name;
    this.size = def.size;
    this.source = def.source;
    this.fields = def.fields;
    this.#byName = new Map(def.fields.map((f) => [f.name, f]));
    validateTable(def.name, def.size, def.fields);
  }

  field(name: string): FieldSpec {
    const f = this.#byName.get(name);
    if (!f) throw new RangeError(`${this.name}: no field ${name}`);
    return f;
  }

  offsetOf(name: F[number]["name"]): number {
    return this.field(name).offset;
  }

  /** Parses `bytes` (at `base`); throws DecodeError naming the layout and field. */
  parse(bytes: Uint8Array, base = 0, opts: ParseOptions = {}): Parsed<F> {
    if (base < 0 || bytes.length - base < this.size) {
      throw new DecodeError("BAD_LENGTH", `${this.name}: need ${this.size} bytes, have ${Math.max(0, bytes.length - base)}`, {
        layout: this.name,
        expected: this.size,
        actual: bytes.length - base,
      });
    }
    const strict = opts.strict ?? true;
    const out: Record<string, unknown> = {};
    for (const f of this.fields) {
      const o = base + f.offset;
      switch (f.type) {
        case "u8":
          out[f.name] = readU8(bytes, o);
          break;
        case "u16":
          out[f.name] = readU16(bytes, o);
          break;
        case "u32":
          out[f.name] = readU32(bytes, o);
          break;
        case "u64":
          out[f.name] = readU64(bytes, o);
          break;
        case "bytes":
          out[f.name] = bytes.slice(o, o + f.size);
          break;
        case "mbz":
          if (strict) {
            for (let i = 0; i < f.size; i++) {
              if (bytes[o + i] !== 0) {
                throw new DecodeError("RESERVED_NONZERO", `${this.name}: reserved bytes ${f.name} at 0x${(f.offset + i).toString(16)} must be zero`, {
                  layout: this.name,
                  field: f.name,
                  offset: f.offset + i,
                });
              }
            }
          }
          break;
      }
    }
    return out as Parsed<F>;
  }

  /** Serializes into a fresh buffer (or into `into` at `base`). Missing fields are zero. */
  serialize(value: Partial<Parsed<F>>, into?: Uint8Array, base = 0): Uint8Array {
    const buf = into ?? new Uint8Array(this.size);
    if (base < 0 || buf.length - base < this.size) throw new RangeError(`${this.name}: buffer too small`);
    const v = value as Record<string, unknown>;
    for (const f of this.fields) {
      const o = base + f.offset;
      const x = v[f.name];
      switch (f.type) {
        case "u8":
          writeU8(buf, o, checkNum(this.name, f, x, 0xff));
          break;
        case "u16":
          writeU16(buf, o, checkNum(this.name, f, x, 0xffff));
          break;
        case "u32":
          writeU32(buf, o, checkNum(this.name, f, x, 0xffffffff));
          break;
        case "u64": {
          const b = x === undefined ? 0n : x;
          if (typeof b !== "bigint" || b < 0n || b >= 1n << 64n) throw new RangeError(`${this.name}.${f.name}: not a u64`);
          writeU64(buf, o, b);
          break;
        }
        case "bytes": {
          if (x === undefined) {
            buf.fill(0, o, o + f.size);
            break;
          }
          if (!(x instanceof Uint8Array) || x.length !== f.size) {
            throw new RangeError(`${this.name}.${f.name}: need ${f.size} bytes`);
          }
          buf.set(x, o);
          break;
        }
        case "mbz":
          buf.fill(0, o, o + f.size);
          break;
      }
    }
    return buf;
  }
}

function checkNum(layout: string, f: FieldSpec, x: unknown, max: number): number {
  const n = x === undefined ? 0 : x;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`${layout}.${f.name}: ${String(x)} is not a ${f.type}`);
  }
  return n;
}

function validateTable(name: string, size: number, fields: readonly FieldSpec[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) throw new Error(`${name}: duplicate field ${f.name}`);
    seen.add(f.name);
    const want = f.type in SIZES ? SIZES[f.type as keyof typeof SIZES] : undefined;
    if (want !== undefined && want !== f.size) throw new Error(`${name}.${f.name}: ${f.type} must be ${want} bytes`);
    if (f.offset < 0 || f.offset + f.size > size) throw new Error(`${name}.${f.name}: outside the ${size}-byte layout`);
  }
  const sorted = [...fields].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const c = sorted[i]!;
    if (p.offset + p.size > c.offset) throw new Error(`${name}: ${p.name} overlaps ${c.name}`);
  }
}

export function defineLayout<const F extends readonly FieldSpec[]>(def: {
  name: string;
  size: number;
  source: string;
  fields: F;
}): Layout<F> {
  return new Layout(def);
}

/** Shorthands for table rows. */
export const u8 = <N extends string>(name: N, offset: number, note?: string) => row(name, offset, 1, "u8", note);
export const u16 = <N extends string>(name: N, offset: number, note?: string) => row(name, offset, 2, "u16", note);
export const u32 = <N extends string>(name: N, offset: number, note?: string) => row(name, offset, 4, "u32", note);
export const u64f = <N extends string>(name: N, offset: number, note?: string) => row(name, offset, 8, "u64", note);
export const bytes = <N extends string>(name: N, offset: number, size: number, note?: string) => row(name, offset, size, "bytes", note);
export const mbz = <N extends string>(name: N, offset: number, size: number, note?: string) => row(name, offset, size, "mbz", note);

function row<N extends string, T extends FieldType>(name: N, offset: number, size: number, type: T, note?: string) {
  return note === undefined ? ({ name, offset, size, type } as const) : ({ name, offset, size, type, note } as const);
}

/** Bit-field helpers for flag words defined as tables of `{name, bit, width}`. */
export interface BitSpec {
  readonly name: string;
  readonly bit: number;
  readonly width: number;
  readonly note?: string;
}

export function getBits(v: bigint, s: { bit: number; width: number }): bigint {
  return (v >> BigInt(s.bit)) & ((1n << BigInt(s.width)) - 1n);
}

export function setBits(v: bigint, s: { bit: number; width: number }, x: bigint): bigint {
  const mask = ((1n << BigInt(s.width)) - 1n) << BigInt(s.bit);
  return (v & ~mask) | ((x << BigInt(s.bit)) & mask);
}
