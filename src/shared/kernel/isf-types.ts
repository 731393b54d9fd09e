/**
 * The Volatility 3 Intermediate Symbol Format (ISF), schema 6.x, as TypeScript types.
 * Source: volatility3/schemas/schema-6.3.0.json (element_base_type, element_user_type,
 * field, type_descriptor, element_enum, element_symbol, element_metadata) and the output
 * of volatilityfoundation/dwarf2json. Keys keep the JSON spelling (bit_position, ...).
 *
 * Name-keyed collections hold untrusted names ("constructor", "__proto__", ...): read them
 * only after an own-property test (`hasKey`), never by plain indexing alone. Collections
 * this project builds are null-prototype records (`dict`).
 */

export type IsfTypeDesc =
  | { readonly kind: "base"; readonly name: string }
  | { readonly kind: "pointer"; readonly subtype: IsfTypeDesc; readonly base?: string }
  | { readonly kind: "array"; readonly count: number; readonly subtype: IsfTypeDesc }
  | { readonly kind: "struct" | "union" | "class"; readonly name: string }
  | { readonly kind: "enum"; readonly name: string }
  | { readonly kind: "function" }
  | {
      readonly kind: "bitfield";
      readonly bit_position: number;
      readonly bit_length: number;
      /** base or enum */
      readonly type: IsfTypeDesc;
    };

export type IsfBaseKind = "void" | "int" | "float" | "char" | "bool";

export interface IsfBaseType {
  readonly size: number;
  readonly signed: boolean;
  readonly kind: IsfBaseKind;
  readonly endian: "little" | "big";
}

export interface IsfField {
  readonly type: IsfTypeDesc;
  /** Byte offset from the start of the containing type. */
  readonly offset: number;
  /** A member without a name in C (named unnamed_field_<hex offset>, as dwarf2json does). */
  readonly anonymous?: boolean;
}

export interface IsfUserType {
  readonly kind: "struct" | "union" | "class";
  readonly size: number;
  readonly fields: Readonly<Record<string, IsfField>>;
}

export interface IsfEnum {
  readonly size: number;
  /** Name of a base type of the same size and signedness. */
  readonly base: string;
  readonly constants: Readonly<Record<string, number | bigint>>;
}

export interface IsfSymbol {
  /** An integer in [0, 2^64): a bigint, or a number when it is a safe integer. */
  readonly address: bigint | number;
  readonly type?: IsfTypeDesc;
  /** base64 of the bytes at the symbol (Linux: the linux_banner string, with its NUL). */
  readonly constant_data?: string;
  readonly linkage_name?: string;
}

export interface IsfSourceFile {
  readonly kind?: "dwarf" | "symtab" | "system-map";
  readonly name?: string;
  readonly hash_type?: "sha256";
  readonly hash_value?: string;
}

export interface IsfMetadata {
  /** "6.x.y" */
  readonly format: string;
  readonly producer?: { readonly name: string; readonly version: string; readonly datetime?: string };
  readonly linux?: { readonly symbols?: readonly IsfSourceFile[]; readonly types?: readonly IsfSourceFile[] };
  readonly mac?: { readonly symbols?: readonly IsfSourceFile[]; readonly types?: readonly IsfSourceFile[] };
  readonly windows?: Readonly<Record<string, unknown>>;
}

export interface IsfDocument {
  readonly metadata: IsfMetadata;
  readonly base_types: Readonly<Record<string, IsfBaseType>>;
  readonly user_types: Readonly<Record<string, IsfUserType>>;
  readonly enums: Readonly<Record<string, IsfEnum>>;
  readonly symbols: Readonly<Record<string, IsfSymbol>>;
}

/** A null-prototype record for untrusted keys. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function hasKey(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** The ISF format version this project writes (the one dwarf2json writes). */
export const ISF_FORMAT = "6.2.0";
/** Generator identity in metadata.producer; bump `version` when the output changes. */
export const ISF_PRODUCER = { name: "00seven-btf2isf", version: "1.0.0" } as const;

/** How dwarf2json names a member that has no name. */
export function anonymousFieldName(byteOffset: number): string {
  return `unnamed_field_${byteOffset.toString(16)}`;
}

/** The ISF type of the linux_banner symbol: char[length of the text + NUL]. */
export function bannerType(banner: string): IsfTypeDesc {
  return { kind: "array", count: new TextEncoder().encode(banner).length + 1, subtype: { kind: "base", name: "char" } };
}
