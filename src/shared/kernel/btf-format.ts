/**
 * The BTF (BPF Type Format) encoding: constants and the decoded type model.
 * Source: the kernel's Documentation/bpf/btf.rst §2 ("BTF Type and String Encoding") and
 * include/uapi/linux/btf.h (libbpf ships the same header).
 *
 *   struct btf_header { u16 magic = 0xeB9F; u8 version = 1; u8 flags; u32 hdr_len;
 *                       u32 type_off, type_len, str_off, str_len; }   // offsets from end of header
 *   struct btf_type   { u32 name_off; u32 info; u32 size_or_type; }    // then kind-specific data
 *   info: bits 0-15 vlen, bits 24-28 kind, bit 31 kind_flag.
 *
 * The magic's byte order tells the producer's endianness; every u32 in the blob uses it.
 */

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
/** sizeof(struct btf_header) of version 1; hdr_len may be larger (later fields ignored). */
export const BTF_HEADER_MIN_LEN = 24;
/** sizeof(struct btf_type). */
export const BTF_TYPE_LEN = 12;
/** Max # of type ids (btf.h BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0x000fffff;
/** Max offset into the string section (btf.h BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0x00ffffff;

export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;
export const BTF_KIND_MAX = 19;

/** Kind names, indexed by kind number (as bpftool prints them, lower-cased). */
export const BTF_KIND_NAMES = [
  "unknown",
  "int",
  "ptr",
  "array",
  "struct",
  "union",
  "enum",
  "fwd",
  "typedef",
  "volatile",
  "const",
  "restrict",
  "func",
  "func_proto",
  "var",
  "datasec",
  "float",
  "decl_tag",
  "type_tag",
  "enum64",
] as const;
export type BtfKindName = Exclude<(typeof BTF_KIND_NAMES)[number], "unknown"> | "void";

/** BTF_INT_ENCODING bits. */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

/** Bytes of kind-specific data after struct btf_type, per kind, given vlen. */
export function btfExtraLen(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      return 4;
    case BTF_KIND_ARRAY:
      return 12; // struct btf_array
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_DATASEC:
    case BTF_KIND_ENUM64:
      return 12 * vlen; // btf_member / btf_var_secinfo / btf_enum64
    case BTF_KIND_ENUM:
    case BTF_KIND_FUNC_PROTO:
      return 8 * vlen; // btf_enum / btf_param
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------
// Decoded types. Ids are BTF type ids (0 = void). Names are "" when anonymous.

export interface BtfVoid {
  readonly kind: "void";
  readonly id: 0;
  readonly name: "";
}
export interface BtfInt {
  readonly kind: "int";
  readonly id: number;
  readonly name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly char: boolean;
  readonly bool: boolean;
  /** BTF_INT_OFFSET: bit offset of the value inside the int (0 from pahole/llvm). */
  readonly bitOffset: number;
  /** BTF_INT_BITS: number of value bits. */
  readonly bits: number;
}
export interface BtfPtr {
  readonly kind: "ptr";
  readonly id: number;
  readonly name: string;
  readonly type: number;
}
export interface BtfArray {
  readonly kind: "array";
  readonly id: number;
  readonly name: string;
  readonly elemType: number;
  readonly indexType: number;
  readonly nelems: number;
}
export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the struct, in bits. */
  readonly bitOffset: number;
  /** Bitfield width in bits; 0 when the member is not a bitfield. */
  readonly bitfieldSize: number;
}
export interface BtfComposite {
  readonly kind: "struct" | "union";
  readonly id: number;
  readonly name: string;
  readonly size: number;
  /** kind_flag: member offsets carry bitfield sizes. */
  readonly kflag: boolean;
  readonly members: readonly BtfMember[];
}
export interface BtfEnumValue {
  readonly name: string;
  readonly value: bigint;
}
export interface BtfEnum {
  readonly kind: "enum" | "enum64";
  readonly id: number;
  readonly name: string;
  readonly size: number;
  /** kind_flag: values are signed. */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}
export interface BtfFwd {
  readonly kind: "fwd";
  readonly id: number;
  readonly name: string;
  readonly fwdKind: "struct" | "union";
}
/** typedef, the three qualifiers and type_tag: a name (typedef, type_tag) and a target. */
export interface BtfRef {
  readonly kind: "typedef" | "volatile" | "const" | "restrict" | "type_tag";
  readonly id: number;
  readonly name: string;
  readonly type: number;
}
export interface BtfFunc {
  readonly kind: "func";
  readonly id: number;
  readonly name: string;
  /** The FUNC_PROTO type id. */
  readonly type: number;
  /** 0 static, 1 global, 2 extern. */
  readonly linkage: number;
}
export interface BtfParam {
  readonly name: string;
  /** 0 for the trailing "..." of a variadic function. */
  readonly type: number;
}
export interface BtfFuncProto {
  readonly kind: "func_proto";
  readonly id: number;
  readonly name: string;
  readonly returnType: number;
  readonly params: readonly BtfParam[];
  readonly variadic: boolean;
}
export interface BtfVar {
  readonly kind: "var";
  readonly id: number;
  readonly name: string;
  readonly type: number;
  /** 0 static, 1 global allocated, 2 global extern. */
  readonly linkage: number;
}
export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}
export interface BtfDatasec {
  readonly kind: "datasec";
  readonly id: number;
  readonly name: string;
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}
export interface BtfFloat {
  readonly kind: "float";
  readonly id: number;
  readonly name: string;
  readonly size: number;
}
export interface BtfDeclTag {
  readonly kind: "decl_tag";
  readonly id: number;
  readonly name: string;
  readonly type: number;
  /** -1: the tag applies to the type itself; otherwise a member / parameter index. */
  readonly componentIdx: number;
  /** kind_flag: the tag is an arbitrary __attribute__ text. */
  readonly attribute: boolean;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfRef
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;
