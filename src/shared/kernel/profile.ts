/**
 * A kernel profile: sizes, member offsets and types, enum constants and symbol addresses
 * of one Linux kernel build. The guest model lays out its memory with it; the client's
 * forensics reads memory with it.
 *
 * One implementation (`KernelProfile`) answers every query over a `TypeSource`, and two
 * backends provide sources: an ISF JSON document (isf-load.ts) and BTF + System.map read
 * directly (btf-profile.ts). Both present types in ISF terms (btf-isf-view.ts), so the two
 * agree on names, offsets and descriptors.
 *
 * Member paths are dotted ("se.vruntime") or arrays (["se", "vruntime"]). A name is looked
 * up in the struct, then inside its anonymous struct/union members (C semantics), so
 * `offsetOf("mm_struct", "pgd")` finds pgd inside mm_struct's anonymous struct. Each
 * further element continues inside the previous member, which must be a struct or union
 * by value. Addresses are un-slid (as in System.map); callers add the KASLR slide.
 */
import { ProfileError } from "./errors.js";
import { hasKey, type IsfBaseType, type IsfEnum, type IsfField, type IsfTypeDesc, type IsfUserType } from "./isf-types.js";
import type { SymbolHit, SymbolIndex } from "./symbol-index.js";

export type { SymbolHit } from "./symbol-index.js";

/** What a backend provides; names are ISF names. */
export interface TypeSource {
  readonly kind: "isf" | "btf";
  userType(name: string): IsfUserType | undefined;
  baseType(name: string): IsfBaseType | undefined;
  enumType(name: string): IsfEnum | undefined;
  userTypeNames(): Iterable<string>;
  enumNames(): Iterable<string>;
  readonly symbols: SymbolIndex;
  symbolType(name: string): IsfTypeDesc | undefined;
  /** The bytes of linux_banner (without the trailing NUL) when known. */
  readonly banner: string | undefined;
}

export interface MemberInfo {
  /** The struct the path starts from, and the path as resolved. */
  readonly struct: string;
  readonly path: readonly string[];
  /** Byte offset from the start of `struct` (for a bitfield: of its storage unit). */
  readonly offset: number;
  /** The member's ISF type descriptor (kind "bitfield" for bitfields). */
  readonly type: IsfTypeDesc;
  /** Size in bytes of the member's type (for a bitfield: of its storage type). */
  readonly size: number;
  /** Offset in bits from the start of `struct` (offset·8, plus bit_position for a bitfield). */
  readonly bitOffset: number;
  /** Width in bits of a bitfield; undefined for other members. */
  readonly bitLength?: number;
}

export type MemberPath = string | readonly string[];

export interface Profile {
  /** Which backend answered: an ISF document or BTF + System.map. */
  readonly source: "isf" | "btf";

  /** True if a user type (struct/union), enum or base type of this name exists. */
  hasType(name: string): boolean;
  /** sizeof: of a user type, enum or base type ("pointer" is the pointer size). */
  sizeOf(name: string): number;
  /** Size in bytes of the type a descriptor denotes. */
  sizeOfDesc(desc: IsfTypeDesc): number;
  /** A struct/union definition in ISF form. */
  userType(name: string): IsfUserType;
  baseType(name: string): IsfBaseType;
  /** Names of every user type / enum the profile holds. */
  userTypeNames(): string[];
  enumNames(): string[];

  member(struct: string, path: MemberPath): MemberInfo;
  /** The member, or undefined when the struct or a path element does not exist. */
  findMember(struct: string, path: MemberPath): MemberInfo | undefined;
  offsetOf(struct: string, path: MemberPath): number;
  hasMember(struct: string, path: MemberPath): boolean;

  enumConstants(name: string): ReadonlyMap<string, bigint>;
  enumValue(name: string, constant: string): bigint;

  /** Un-slid address of a symbol, or undefined. */
  symbolAddress(name: string): bigint | undefined;
  /** Like symbolAddress, but a missing symbol throws ProfileError UNKNOWN_SYMBOL. */
  requireSymbol(name: string): bigint;
  /** The symbol's type when known (per-cpu variables, functions, linux_banner). */
  symbolType(name: string): IsfTypeDesc | undefined;
  /** The nearest symbol at or below an (un-slid) address. */
  symbolAt(address: bigint): SymbolHit | undefined;
  symbolNames(): IterableIterator<string>;
  readonly symbolCount: number;

  /** Un-slid address of linux_banner, if the profile has the symbol. */
  readonly bannerAddress: bigint | undefined;
  /** The linux_banner text ("Linux version ...\n") when the profile carries it. */
  readonly banner: string | undefined;
}

const MAX_ANON_TYPES = 256;
const MAX_DESC_DEPTH = 64;

function isComposite(d: IsfTypeDesc): d is { kind: "struct" | "union" | "class"; name: string } {
  return d.kind === "struct" || d.kind === "union" || d.kind === "class";
}

export class KernelProfile implements Profile {
  readonly source: "isf" | "btf";
  readonly #src: TypeSource;
  readonly #anonFields = new Map<string, readonly (readonly [string, IsfField])[]>();
  readonly #enumMaps = new Map<string, ReadonlyMap<string, bigint>>();

  constructor(src: TypeSource) {
    this.#src = src;
    this.source = src.kind;
  }

  hasType(name: string): boolean {
    return this.#src.userType(name) !== undefined || this.#src.enumType(name) !== undefined || this.#src.baseType(name) !== undefined;
  }

  sizeOf(name: string): number {
    const u = this.#src.userType(name);
    if (u !== undefined) return u.size;
    const e = this.#src.enumType(name);
    if (e !== undefined) return e.size;
    const b = this.#src.baseType(name);
    if (b !== undefined) return b.size;
    throw new ProfileError("UNKNOWN_TYPE", `no type named ${JSON.stringify(name)}`, { type: name });
  }

  sizeOfDesc(desc: IsfTypeDesc): number {
    let mult = 1;
    let d = desc;
    for (let depth = 0; depth <= MAX_DESC_DEPTH; depth++) {
      switch (d.kind) {
        case "base":
          return mult * this.baseType(d.name).size;
        case "pointer":
          return mult * (this.#src.baseType("pointer")?.size ?? 8);
        case "array":
          mult *= d.count;
          d = d.subtype;
          continue;
        case "struct":
        case "union":
        case "class":
          return mult * this.userType(d.name).size;
        case "enum":
          return mult * this.#enum(d.name).size;
        case "function":
          return 0;
        case "bitfield":
          d = d.type;
          continue;
      }
    }
    throw new ProfileError("BAD_ARGUMENT", "type descriptor nests too deeply", {});
  }

  userType(name: string): IsfUserType {
    const u = this.#src.userType(name);
    if (u === undefined) throw new ProfileError("UNKNOWN_TYPE", `no struct or union named ${JSON.stringify(name)}`, { type: name });
    return u;
  }

  baseType(name: string): IsfBaseType {
    const b = this.#src.baseType(name);
    if (b === undefined) throw new ProfileError("UNKNOWN_TYPE", `no base type named ${JSON.stringify(name)}`, { type: name });
    return b;
  }

  userTypeNames(): string[] {
    return [...this.#src.userTypeNames()];
  }

  enumNames(): string[] {
    return [...this.#src.enumNames()];
  }

  #enum(name: string): IsfEnum {
    const e = this.#src.enumType(name);
    if (e === undefined) throw new ProfileError("UNKNOWN_TYPE", `no enum named ${JSON.stringify(name)}`, { type: name });
    return e;
  }

  // -- members ---------------------------------------------------------------------------

  member(struct: string, path: MemberPath): MemberInfo {
    return this.#member(struct, path, true)!;
  }

  findMember(struct: string, path: MemberPath): MemberInfo | undefined {
    return this.#member(struct, path, false);
  }

  offsetOf(struct: string, path: MemberPath): number {
    return this.member(struct, path).offset;
  }

  hasMember(struct: string, path: MemberPath): boolean {
    return this.findMember(struct, path) !== undefined;
  }

  #member(struct: string, path: MemberPath, required: boolean): MemberInfo | undefined {
    const parts = typeof path === "string" ? path.split(".") : [...path];
    if (parts.length === 0 || parts.some((p) => p === "")) {
      throw new ProfileError("BAD_ARGUMENT", `bad member path ${JSON.stringify(path)}`, { struct, path: parts });
    }
    let cur = this.#src.userType(struct);
    if (cur === undefined) {
      if (!required) return undefined;
      throw new ProfileError("UNKNOWN_TYPE", `no struct or union named ${JSON.stringify(struct)}`, { type: struct });
    }
    let curName = struct;
    let base = 0;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const hit = this.#findField(curName, cur, part);
      if (hit === undefined) {
        if (!required) return undefined;
        throw new ProfileError("UNKNOWN_MEMBER", `${curName} has no member ${JSON.stringify(part)}`, { struct, path: parts, type: curName, member: part });
      }
      const offset = base + hit.offset;
      const t = hit.field.type;
      if (i === parts.length - 1) {
        if (t.kind === "bitfield") {
          return {
            struct,
            path: parts,
            offset,
            type: t,
            size: this.sizeOfDesc(t.type),
            bitOffset: offset * 8 + t.bit_position,
            bitLength: t.bit_length,
          };
        }
        return { struct, path: parts, offset, type: t, size: this.sizeOfDesc(t), bitOffset: offset * 8 };
      }
      if (!isComposite(t)) {
        if (!required) return undefined;
        throw new ProfileError("NOT_A_STRUCT", `${curName}.${part} is not a struct or union (it is ${t.kind})`, { struct, path: parts, member: part, kind: t.kind });
      }
      const next = this.#src.userType(t.name);
      if (next === undefined) {
        if (!required) return undefined;
        throw new ProfileError("UNKNOWN_TYPE", `no struct or union named ${JSON.stringify(t.name)}`, { type: t.name });
      }
      cur = next;
      curName = t.name;
      base = offset;
    }
    return undefined; // unreachable: the loop returns on the last element
  }

  /**
   * A field by name, directly or inside anonymous struct/union members (in offset order).
   * Each type is searched at most once per lookup, so self-embedding anonymous members in
   * a hostile ISF cannot make the search loop or explode.
   */
  #findField(typeName: string, t: IsfUserType, name: string, visited = new Set<string>()): { offset: number; field: IsfField } | undefined {
    if (hasKey(t.fields, name)) return { offset: t.fields[name]!.offset, field: t.fields[name]! };
    visited.add(typeName);
    if (visited.size > MAX_ANON_TYPES) return undefined;
    for (const [, f] of this.#anonymous(typeName, t)) {
      const subName = (f.type as { name: string }).name;
      if (visited.has(subName)) continue;
      const sub = this.#src.userType(subName);
      if (sub === undefined) continue;
      const hit = this.#findField(subName, sub, name, visited);
      if (hit !== undefined) return { offset: f.offset + hit.offset, field: hit.field };
    }
    return undefined;
  }

  #anonymous(typeName: string, t: IsfUserType): readonly (readonly [string, IsfField])[] {
    let list = this.#anonFields.get(typeName);
    if (list === undefined) {
      list = Object.entries(t.fields)
        .filter(([n, f]) => (f.anonymous === true || /^unnamed_field_[0-9a-f]+/.test(n)) && isComposite(f.type))
        .sort((a, b) => a[1].offset - b[1].offset || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#anonFields.set(typeName, list);
    }
    return list;
  }

  // -- enums -----------------------------------------------------------------------------

  enumConstants(name: string): ReadonlyMap<string, bigint> {
    let m = this.#enumMaps.get(name);
    if (m === undefined) {
      const e = this.#enum(name);
      m = new Map(Object.entries(e.constants).map(([k, v]) => [k, BigInt(v)]));
      this.#enumMaps.set(name, m);
    }
    return m;
  }

  enumValue(name: string, constant: string): bigint {
    const v = this.enumConstants(name).get(constant);
    if (v === undefined) throw new ProfileError("UNKNOWN_ENUM_CONSTANT", `enum ${name} has no constant ${constant}`, { type: name, constant });
    return v;
  }

  // -- symbols ---------------------------------------------------------------------------

  symbolAddress(name: string): bigint | undefined {
    return this.#src.symbols.address(name);
  }

  requireSymbol(name: string): bigint {
    const a = this.#src.symbols.address(name);
    if (a === undefined) throw new ProfileError("UNKNOWN_SYMBOL", `no symbol ${JSON.stringify(name)}`, { symbol: name });
    return a;
  }

  symbolType(name: string): IsfTypeDesc | undefined {
    return this.#src.symbolType(name);
  }

  symbolAt(address: bigint): SymbolHit | undefined {
    return this.#src.symbols.nearest(address);
  }

  symbolNames(): IterableIterator<string> {
    return this.#src.symbols.names();
  }

  get symbolCount(): number {
    return this.#src.symbols.size;
  }

  get bannerAddress(): bigint | undefined {
    return this.#src.symbols.address("linux_banner");
  }

  get banner(): string | undefined {
    return this.#src.banner;
  }
}
