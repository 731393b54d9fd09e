/**
 * A BTF seen in ISF terms: names, type descriptors, user types, enums and base types
 * exactly as the ISF generator writes them. The BTF-backed profile and the generator both
 * use this one view, so a profile loaded from BTF and one loaded from the ISF generated
 * from that BTF answer every query the same way.
 *
 * Naming (dwarf2json's conventions where BTF allows them):
 * - named struct/union/enum/base types keep their C name; if several distinct types share
 *   a name (static types of different files), the lowest id keeps it and the others are
 *   named `NAME__ID`;
 * - anonymous struct/union/enum types are `unnamed_` + 16 hex digits of the SHA-1 of a
 *   canonical definition (kind, size, members with names, offsets and descriptors);
 *   identical anonymous definitions share one name;
 * - members without a name are `unnamed_field_<hex byte offset>` with `anonymous: true`
 *   (a second one at the same offset, possible in unions, gets `_<member index>` added);
 * - the base types "void" and "pointer" are always present, as Volatility expects.
 *
 * Bitfields: ISF reads `type` at the field's byte `offset` and takes `bit_length` bits from
 * `bit_position` (little-endian bit numbering). The offset is the storage unit of the
 * bitfield's type containing the field (aligned to that type's size), falling back to the
 * byte holding the first bit when a packed field straddles the aligned unit.
 */
import { createHash } from "node:crypto";
import { DecodeError } from "../base/index.js";
import type { Btf } from "./btf.js";
import {
  BTF_KIND_ARRAY,
  BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG,
  BTF_KIND_ENUM,
  BTF_KIND_ENUM64,
  BTF_KIND_FLOAT,
  BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO,
  BTF_KIND_FWD,
  BTF_KIND_INT,
  BTF_KIND_PTR,
  BTF_KIND_STRUCT,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
  type BtfComposite,
  type BtfEnum,
} from "./btf-format.js";
import { descNames, KNOWN_SYMBOL_TYPES } from "./known-symbols.js";
import { anonymousFieldName, dict, hasKey, type IsfBaseType, type IsfEnum, type IsfField, type IsfTypeDesc, type IsfUserType } from "./isf-types.js";

/** Decides whether a named user type / enum is part of the output (generator's --types). */
export type KeepPredicate = (kind: "user" | "enum", name: string) => boolean;

const MAX_DESC_DEPTH = 64;
const RESERVED_BASE = new Set(["void", "pointer"]);
const CYCLE = "<cycle>";

function bad(code: string, message: string, details: Record<string, unknown> = {}): never {
  throw new DecodeError(code, message, details);
}

export class BtfIsfView {
  readonly btf: Btf;
  #names: Map<number, string> | undefined;
  /** ISF name → lowest id of that name, per namespace. */
  #userIds = new Map<string, number>();
  #enumIds = new Map<string, number>();
  #baseIds = new Map<string, number>();
  #baseTypes: Record<string, IsfBaseType> | undefined;
  #userCache = new Map<number, IsfUserType>();
  #enumCache = new Map<number, IsfEnum>();
  #varTypes: Map<string, number> | undefined;
  #funcNames: Set<string> | undefined;

  constructor(btf: Btf) {
    this.btf = btf;
  }

  // -- names -----------------------------------------------------------------------------

  /** ISF name of a struct/union/enum/int/float type id. */
  nameOf(id: number): string {
    const n = this.#ensureNames().get(id);
    if (n === undefined) bad("BTF_NOT_NAMED", `type ${id} (${this.btf.kindName(id)}) has no ISF name`, { id });
    return n;
  }

  /** Representative type id of an ISF user type name (struct/union). */
  userTypeId(name: string): number | undefined {
    this.#ensureNames();
    return this.#userIds.get(name);
  }

  enumId(name: string): number | undefined {
    this.#ensureNames();
    return this.#enumIds.get(name);
  }

  /** All ISF user type names with their representative ids, in id order. */
  userTypeIds(): ReadonlyMap<string, number> {
    this.#ensureNames();
    return this.#userIds;
  }

  enumIds(): ReadonlyMap<string, number> {
    this.#ensureNames();
    return this.#enumIds;
  }

  #ensureNames(): Map<number, string> {
    if (this.#names !== undefined) return this.#names;
    try {
      return this.#computeNames();
    } catch (e) {
      // Leave no half-built state behind: the next call fails the same way.
      this.#names = undefined;
      this.#userIds = new Map();
      this.#enumIds = new Map();
      this.#baseIds = new Map();
      throw e;
    }
  }

  #computeNames(): Map<number, string> {
    const btf = this.btf;
    const names = new Map<number, string>();
    this.#names = names;
    const users: number[] = [];
    const enums: number[] = [];
    const bases: number[] = [];
    for (let id = 1; id < btf.count; id++) {
      const k = btf.kindOf(id);
      if (k === BTF_KIND_STRUCT || k === BTF_KIND_UNION) users.push(id);
      else if (k === BTF_KIND_ENUM || k === BTF_KIND_ENUM64) enums.push(id);
      else if (k === BTF_KIND_INT || k === BTF_KIND_FLOAT) bases.push(id);
    }
    // Base types: duplicates with the same definition share the name.
    const baseDefs = new Map<string, string>();
    for (const id of bases) {
      const def = this.#baseDef(id);
      const key = JSON.stringify(def);
      let n = btf.nameOf(id) || `unnamed_${def.signed ? "s" : "u"}${def.kind}${def.size * 8}`;
      if (RESERVED_BASE.has(n)) n = `${n}__${id}`;
      const prev = baseDefs.get(n);
      if (prev !== undefined && prev !== key) n = freeName(`${n}__${id}`, baseDefs);
      if (!baseDefs.has(n)) {
        baseDefs.set(n, key);
        this.#baseIds.set(n, id);
      }
      names.set(id, n);
    }
    // Named user types and enums first (anonymous names depend on them).
    const taken = { user: new Map<string, string>(), enum: new Map<string, string>() };
    for (const id of users) {
      const n = btf.nameOf(id);
      if (n === "") continue;
      const name = taken.user.has(n) ? freeName(`${n}__${id}`, taken.user) : n;
      taken.user.set(name, `#${id}`);
      this.#userIds.set(name, id);
      names.set(id, name);
    }
    for (const id of enums) {
      const n = btf.nameOf(id);
      if (n === "") continue;
      const name = taken.enum.has(n) ? freeName(`${n}__${id}`, taken.enum) : n;
      taken.enum.set(name, `#${id}`);
      this.#enumIds.set(name, id);
      names.set(id, name);
    }
    // Anonymous ones, in id order, each hashed from its canonical definition.
    const inProgress = new Set<number>();
    const anonName = (id: number): string => {
      const known = names.get(id);
      if (known !== undefined) return known;
      if (inProgress.has(id)) return CYCLE;
      inProgress.add(id);
      const isEnum = btf.kindOf(id) === BTF_KIND_ENUM || btf.kindOf(id) === BTF_KIND_ENUM64;
      const canon = isEnum ? this.#enumCanon(id) : this.#userCanon(id, anonName);
      inProgress.delete(id);
      const ns = isEnum ? taken.enum : taken.user;
      const ids = isEnum ? this.#enumIds : this.#userIds;
      let name = "unnamed_" + createHash("sha1").update(canon).digest("hex").slice(0, 16);
      const prev = ns.get(name);
      if (prev !== undefined && prev !== canon) name = freeName(`${name}__${id}`, ns);
      if (!ns.has(name)) ns.set(name, canon);
      const rep = ids.get(name);
      if (rep === undefined || id < rep) ids.set(name, id);
      names.set(id, name);
      return name;
    };
    for (const id of users) if (!names.has(id)) anonName(id);
    for (const id of enums) if (!names.has(id)) anonName(id);
    // Keep name → id maps in id order (deterministic iteration).
    this.#userIds = new Map([...this.#userIds].sort((a, b) => a[1] - b[1]));
    this.#enumIds = new Map([...this.#enumIds].sort((a, b) => a[1] - b[1]));
    return names;
  }

  #userCanon(id: number, nameOfAnon: (id: number) => string): string {
    const t = this.btf.type(id) as BtfComposite;
    const parts = t.members.map((m) => {
      const d = this.#describe(m.type, undefined, 0, nameOfAnon);
      return `${m.name}@${m.bitOffset}:${m.bitfieldSize}=${JSON.stringify(d)}`;
    });
    return `${t.kind} ${t.size} {${parts.join(";")}}`;
  }

  #enumCanon(id: number): string {
    const t = this.btf.type(id) as BtfEnum;
    return `enum ${t.size} ${t.signed} {${t.values.map((v) => `${v.name}=${v.value}`).join(",")}}`;
  }

  // -- base types ------------------------------------------------------------------------

  #baseDef(id: number): IsfBaseType {
    const t = this.btf.type(id);
    const endian = this.btf.endian;
    if (t.kind === "float") return { size: t.size, signed: true, kind: "float", endian };
    if (t.kind !== "int") return bad("BTF_NOT_BASE", `type ${id} is not an int or float`, { id });
    if (t.bool) return { size: t.size, signed: false, kind: "bool", endian };
    const isChar = t.char || t.name === "char" || t.name === "signed char" || t.name === "unsigned char";
    return { size: t.size, signed: t.signed, kind: isChar ? "char" : "int", endian };
  }

  /** Every base type, plus "void" and "pointer". */
  baseTypes(): Readonly<Record<string, IsfBaseType>> {
    if (this.#baseTypes === undefined) {
      this.#ensureNames();
      const out = dict<IsfBaseType>();
      out["void"] = { size: 0, signed: false, kind: "void", endian: this.btf.endian };
      out["pointer"] = { size: this.btf.pointerSize, signed: false, kind: "int", endian: this.btf.endian };
      for (const [n, id] of this.#baseIds) out[n] = this.#baseDef(id);
      this.#baseTypes = out;
    }
    return this.#baseTypes;
  }

  // -- descriptors -----------------------------------------------------------------------

  /**
   * The ISF type descriptor of a type id. With `keep`, a pointer to a struct/union/enum
   * that is not kept becomes a pointer to void, and a by-value reference to one gives
   * null (the caller decides); without `keep` every type is available.
   */
  describe(id: number, keep?: KeepPredicate): IsfTypeDesc | null {
    return this.#describe(id, keep, 0, (i) => this.nameOf(i));
  }

  #describe(id: number, keep: KeepPredicate | undefined, depth: number, nameOf: (id: number) => string): IsfTypeDesc | null {
    if (depth > MAX_DESC_DEPTH) bad("BTF_TYPE_TOO_DEEP", `type ${id}: descriptor nests deeper than ${MAX_DESC_DEPTH}`, { id });
    const btf = this.btf;
    const r = btf.resolve(id);
    const k = btf.kindOf(r);
    switch (k) {
      case 0:
        return { kind: "base", name: "void" };
      case BTF_KIND_INT:
      case BTF_KIND_FLOAT:
        return { kind: "base", name: nameOf(r) };
      case BTF_KIND_PTR: {
        const target = btf.type(r);
        const sub = this.#describe((target as { type: number }).type, keep, depth + 1, nameOf);
        return { kind: "pointer", subtype: sub ?? { kind: "base", name: "void" } };
      }
      case BTF_KIND_ARRAY: {
        const a = btf.type(r) as { elemType: number; nelems: number };
        const sub = this.#describe(a.elemType, keep, depth + 1, nameOf);
        return sub === null ? null : { kind: "array", count: a.nelems, subtype: sub };
      }
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        const name = nameOf(r);
        if (keep !== undefined && !keep("user", name)) return null;
        return { kind: k === BTF_KIND_STRUCT ? "struct" : "union", name };
      }
      case BTF_KIND_FWD: {
        const n = btf.nameOf(r);
        this.#ensureNames();
        const target = n === "" ? undefined : this.#userIds.get(n);
        if (target === undefined) return null;
        const name = nameOf(target);
        if (keep !== undefined && !keep("user", name)) return null;
        return { kind: btf.kindOf(target) === BTF_KIND_STRUCT ? "struct" : "union", name };
      }
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64: {
        const name = nameOf(r);
        if (keep !== undefined && !keep("enum", name)) return null;
        return { kind: "enum", name };
      }
      case BTF_KIND_FUNC_PROTO:
      case BTF_KIND_FUNC:
        return { kind: "function" };
      case BTF_KIND_VAR:
      case BTF_KIND_DATASEC:
      case BTF_KIND_DECL_TAG:
      default:
        return bad("BTF_NOT_A_TYPE", `type ${id} (${btf.kindName(r)}) is not a data type`, { id, kind: btf.kindName(r) });
    }
  }

  // -- user types and enums --------------------------------------------------------------

  /** The ISF definition of a struct/union id (cached when `keep` is not given). */
  userType(id: number, keep?: KeepPredicate): IsfUserType {
    if (keep === undefined) {
      const c = this.#userCache.get(id);
      if (c !== undefined) return c;
    }
    const btf = this.btf;
    const t = btf.type(id);
    if (t.kind !== "struct" && t.kind !== "union") return bad("BTF_NOT_COMPOSITE", `type ${id} is not a struct or union`, { id });
    const fields = dict<IsfField>();
    t.members.forEach((m, i) => {
      let offset: number;
      let type: IsfTypeDesc | null;
      let end: number; // bytes covered, for the bounds check
      if (m.bitfieldSize > 0) {
        const r = btf.resolve(m.type);
        const rk = btf.kindOf(r);
        if (rk !== BTF_KIND_INT && rk !== BTF_KIND_ENUM && rk !== BTF_KIND_ENUM64) {
          bad("BTF_BAD_BITFIELD", `type ${id} member ${i}: bitfield of ${btf.kindName(r)}`, { id, member: i });
        }
        const unit = btf.sizeOf(r);
        if (m.bitfieldSize > unit * 8) bad("BTF_BAD_BITFIELD", `type ${id} member ${i}: ${m.bitfieldSize} bits in a ${unit}-byte type`, { id, member: i });
        offset = Math.floor(m.bitOffset / (unit * 8)) * unit;
        let pos = m.bitOffset - offset * 8;
        if (pos + m.bitfieldSize > unit * 8) {
          offset = Math.floor(m.bitOffset / 8);
          pos = m.bitOffset % 8;
        }
        const inner = this.#describe(m.type, keep, 0, (x) => this.nameOf(x));
        if (inner === null) return bad("BTF_BAD_BITFIELD", `type ${id} member ${i}: bitfield type unavailable`, { id, member: i });
        type = { kind: "bitfield", bit_position: pos, bit_length: m.bitfieldSize, type: inner };
        end = Math.ceil((m.bitOffset + m.bitfieldSize) / 8);
      } else {
        if (m.bitOffset % 8 !== 0) bad("BTF_BAD_MEMBER", `type ${id} member ${i} is not byte-aligned`, { id, member: i, bitOffset: m.bitOffset });
        offset = m.bitOffset / 8;
        type = this.#describe(m.type, keep, 0, (x) => this.nameOf(x));
        if (type === null) {
          bad("BTF_INCOMPLETE_MEMBER", `type ${id} member ${i} has an incomplete or excluded type by value`, { id, member: i });
        }
        end = offset + btf.sizeOf(m.type);
      }
      if (end > t.size) bad("BTF_BAD_MEMBER", `type ${id} member ${i} ends at byte ${end}, past the size ${t.size}`, { id, member: i });
      let name = m.name;
      const anonymous = name === "";
      if (anonymous) name = anonymousFieldName(offset);
      if (hasKey(fields, name)) {
        if (!anonymous) return; // a duplicate member name (invalid C): the first one wins
        name = `${name}_${i}`;
        while (hasKey(fields, name)) name += "_";
      }
      fields[name] = anonymous ? { type, offset, anonymous: true } : { type, offset };
    });
    const out: IsfUserType = { kind: t.kind, size: t.size, fields };
    if (keep === undefined) this.#userCache.set(id, out);
    return out;
  }

  /** Struct/union ids embedded by value (directly or in arrays) in a struct/union. */
  byValueDeps(id: number): number[] {
    const btf = this.btf;
    const t = btf.type(id);
    if (t.kind !== "struct" && t.kind !== "union") return [];
    const out: number[] = [];
    for (const m of t.members) {
      let r = btf.resolve(m.type);
      for (let steps = 0; btf.kindOf(r) === BTF_KIND_ARRAY; steps++) {
        if (steps > btf.count) bad("BTF_TYPE_CYCLE", `type ${id}: cyclic array chain`, { id });
        r = btf.resolve((btf.type(r) as { elemType: number }).elemType);
      }
      const k = btf.kindOf(r);
      if (k === BTF_KIND_STRUCT || k === BTF_KIND_UNION) out.push(this.userTypeId(this.nameOf(r)) ?? r);
      else if (k === BTF_KIND_FWD) {
        const target = this.userTypeId(btf.nameOf(r));
        if (target !== undefined) out.push(target);
      }
    }
    return out;
  }

  enumType(id: number): IsfEnum {
    const c = this.#enumCache.get(id);
    if (c !== undefined) return c;
    const t = this.btf.type(id);
    if (t.kind !== "enum" && t.kind !== "enum64") return bad("BTF_NOT_ENUM", `type ${id} is not an enum`, { id });
    const constants = dict<number | bigint>();
    let negative = false;
    for (const v of t.values) {
      if (hasKey(constants, v.name)) continue;
      if (v.value < 0n) negative = true;
      constants[v.name] = safeInt(v.value);
    }
    const out: IsfEnum = { size: t.size, base: this.#enumBase(t.size, t.signed || negative), constants };
    this.#enumCache.set(id, out);
    return out;
  }

  #enumBase(size: number, signed: boolean): string {
    const bases = this.baseTypes();
    const names = Object.keys(bases).sort();
    for (const kind of ["int", "char"] as const) {
      for (const n of names) {
        const b = bases[n]!;
        if (b.kind === kind && b.size === size && b.signed === signed) return n;
      }
    }
    return "void";
  }

  // -- symbols ---------------------------------------------------------------------------

  /** Type id of the variable of this name (per-cpu variables in vmlinux BTF). */
  varType(name: string): number | undefined {
    if (this.#varTypes === undefined) {
      const m = new Map<string, number>();
      const f = new Set<string>();
      for (let id = 1; id < this.btf.count; id++) {
        const k = this.btf.kindOf(id);
        if (k === BTF_KIND_VAR) {
          const n = this.btf.nameOf(id);
          if (!m.has(n)) m.set(n, (this.btf.type(id) as { type: number }).type);
        } else if (k === BTF_KIND_FUNC) f.add(this.btf.nameOf(id));
      }
      this.#varTypes = m;
      this.#funcNames = f;
    }
    return this.#varTypes.get(name);
  }

  isFunction(name: string): boolean {
    this.varType("");
    return this.#funcNames!.has(name);
  }

  /**
   * The ISF type of a global symbol: a BTF variable's type, "function" for a BTF function,
   * else the declared type of a well-known global (known-symbols.ts) when every type it
   * names exists (and is kept). undefined when unknown, or when a variable's type embeds
   * a type `keep` leaves out.
   */
  symbolType(name: string, keep?: KeepPredicate): IsfTypeDesc | undefined {
    const v = this.varType(name);
    if (v !== undefined) return this.describe(v, keep) ?? undefined;
    if (this.isFunction(name)) return { kind: "function" };
    const known = KNOWN_SYMBOL_TYPES.get(name);
    if (known === undefined) return undefined;
    const names = descNames(known);
    const bases = this.baseTypes();
    if (!names.bases.every((b) => hasKey(bases, b))) return undefined;
    if (!names.users.every((u) => this.userTypeId(u) !== undefined && (keep === undefined || keep("user", u)))) return undefined;
    if (!names.enums.every((e) => this.enumId(e) !== undefined && (keep === undefined || keep("enum", e)))) return undefined;
    return known;
  }
}

function freeName(base: string, taken: ReadonlyMap<string, string>): string {
  let n = base;
  while (taken.has(n)) n += "_";
  return n;
}

function safeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
