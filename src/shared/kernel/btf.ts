/**
 * BTF parser (see btf-format.ts for the encoding and its source).
 *
 * The input is untrusted. `parseBtf` makes one pass over the type section that checks
 * everything needed to make later access safe — header, section bounds, every record's
 * length, kind-specific invariants, every referenced type id and name offset — and keeps
 * only an index (record offset and kind per id). Types are decoded to objects on first
 * access and cached, so parsing a 100k-type kernel BTF stays cheap. Chains through
 * typedefs/qualifiers and arrays are followed with step limits, so cyclic input ends in a
 * `DecodeError`, never a hang. `DecodeError` is the only error this module throws.
 */
import { DecodeError } from "../base/index.js";
import {
  BTF_HEADER_MIN_LEN,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  BTF_KIND_ARRAY,
  BTF_KIND_CONST,
  BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG,
  BTF_KIND_ENUM,
  BTF_KIND_ENUM64,
  BTF_KIND_FLOAT,
  BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO,
  BTF_KIND_FWD,
  BTF_KIND_INT,
  BTF_KIND_MAX,
  BTF_KIND_NAMES,
  BTF_KIND_PTR,
  BTF_KIND_RESTRICT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPEDEF,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
  BTF_MAGIC,
  BTF_MAX_NAME_OFFSET,
  BTF_MAX_TYPE,
  BTF_TYPE_LEN,
  BTF_VERSION,
  btfExtraLen,
  type BtfKindName,
  type BtfMember,
  type BtfType,
} from "./btf-format.js";

export type Endian = "little" | "big";

export interface BtfHeader {
  readonly endian: Endian;
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

const VOID: BtfType = Object.freeze({ kind: "void", id: 0, name: "" });
const utf8 = new TextDecoder("utf-8", { fatal: false });

function bad(code: string, message: string, details: Record<string, unknown> = {}): never {
  throw new DecodeError(code, message, details);
}

/** Parses and validates a .BTF blob (raw, as in /sys/kernel/btf/vmlinux or an ELF .BTF section). */
export function parseBtf(bytes: Uint8Array): Btf {
  return new Btf(bytes);
}

export class Btf {
  readonly header: BtfHeader;
  readonly endian: Endian;
  /** Number of type ids including void: valid ids are 0 .. count-1. */
  readonly count: number;
  /** Pointer size in bytes, from the size of `long` (as libbpf infers it); 8 if absent. */
  readonly pointerSize: number;

  readonly #bytes: Uint8Array;
  readonly #dv: DataView;
  readonly #le: boolean;
  readonly #strBase: number;
  readonly #strLen: number;
  /** Absolute byte offset of each type record; index 0 (void) unused. */
  readonly #offsets: Uint32Array;
  readonly #kinds: Uint8Array;
  readonly #cache: (BtfType | undefined)[];
  readonly #strings = new Map<number, string>();
  #byName: Map<string, number[]> | undefined;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const h = readHeader(bytes, this.#dv);
    this.header = h;
    this.endian = h.endian;
    this.#le = h.endian === "little";
    const typeBase = h.hdrLen + h.typeOff;
    this.#strBase = h.hdrLen + h.strOff;
    this.#strLen = h.strLen;
    const { offsets, kinds } = this.#scan(typeBase, h.typeLen);
    this.#offsets = offsets;
    this.#kinds = kinds;
    this.count = offsets.length;
    this.#cache = new Array<BtfType | undefined>(this.count);
    this.pointerSize = this.#inferPointerSize();
  }

  // -- index pass ------------------------------------------------------------------------

  #u32(off: number): number {
    return this.#dv.getUint32(off, this.#le);
  }

  #scan(base: number, len: number): { offsets: Uint32Array; kinds: Uint8Array } {
    const dv = this.#dv;
    const le = this.#le;
    const strLen = this.#strLen;
    // A record is at least 12 bytes, so len/12 bounds the count (+1 for void).
    const cap = Math.min(Math.floor(len / BTF_TYPE_LEN), BTF_MAX_TYPE) + 1;
    let offsets = new Uint32Array(cap);
    let kinds = new Uint8Array(cap);
    const end = base + len;
    let id = 1;
    let off = base;
    // Referenced ids are checked against the final count once the count is known.
    let maxRef = 0;
    let maxRefFrom = 0;
    let badName = -1;
    while (off < end) {
      if (id >= cap) bad("BTF_TOO_MANY_TYPES", `more than ${cap - 1} types`, { id });
      if (off + BTF_TYPE_LEN > end) bad("BTF_TRUNCATED_TYPE", `type ${id} header runs past the type section`, { id, offset: off });
      const nameOff = dv.getUint32(off, le);
      const info = dv.getUint32(off + 4, le);
      const sizeType = dv.getUint32(off + 8, le);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const kflag = info >>> 31;
      if ((info & 0x60ff0000) !== 0) bad("BTF_BAD_INFO", `type ${id} has unused info bits set`, { id, info });
      if (kind === 0 || kind > BTF_KIND_MAX) bad("BTF_BAD_KIND", `type ${id} has unknown kind ${kind}`, { id, kind });
      if (nameOff >= strLen) badName = nameOff;
      const recEnd = off + BTF_TYPE_LEN + btfExtraLen(kind, vlen);
      if (recEnd > end) bad("BTF_TRUNCATED_TYPE", `type ${id} (${BTF_KIND_NAMES[kind]}) runs past the type section`, { id, offset: off });
      const d = off + BTF_TYPE_LEN;
      let r1 = 0; // the largest type id this record refers to
      switch (kind) {
        case BTF_KIND_INT: {
          mustBeZero(vlen | kflag, "vlen and kind_flag", id, kind);
          const v = dv.getUint32(d, le);
          const enc = (v >>> 24) & 0x0f;
          const bits = v & 0xff;
          const bitOff = (v >>> 16) & 0xff;
          if ((v & 0xf000ff00) !== 0) bad("BTF_BAD_INT", `int ${id} has unused bits set`, { id });
          if (enc !== 0 && enc !== BTF_INT_SIGNED && enc !== BTF_INT_CHAR && enc !== BTF_INT_BOOL) {
            bad("BTF_BAD_INT", `int ${id} has invalid encoding ${enc}`, { id, encoding: enc });
          }
          if (sizeType !== 1 && sizeType !== 2 && sizeType !== 4 && sizeType !== 8 && sizeType !== 16) {
            bad("BTF_BAD_INT", `int ${id} has invalid size ${sizeType}`, { id, size: sizeType });
          }
          if (bits === 0 || bits > 128 || bits + bitOff > sizeType * 8) {
            bad("BTF_BAD_INT", `int ${id} has ${bits} bits at offset ${bitOff} in ${sizeType} bytes`, { id });
          }
          break;
        }
        case BTF_KIND_PTR:
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
          mustBeZero(vlen | kflag, "vlen and kind_flag", id, kind);
          r1 = sizeType;
          break;
        case BTF_KIND_TYPE_TAG:
          mustBeZero(vlen, "vlen", id, kind);
          r1 = sizeType;
          break;
        case BTF_KIND_ARRAY:
          mustBeZero(vlen | kflag, "vlen and kind_flag", id, kind);
          r1 = Math.max(dv.getUint32(d, le), dv.getUint32(d + 4, le));
          break;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
          for (let m = d; m < recEnd; m += 12) {
            if (dv.getUint32(m, le) >= strLen) badName = dv.getUint32(m, le);
            const t = dv.getUint32(m + 4, le);
            if (t > r1) r1 = t;
          }
          break;
        case BTF_KIND_ENUM:
        case BTF_KIND_ENUM64: {
          if (sizeType !== 1 && sizeType !== 2 && sizeType !== 4 && sizeType !== 8) {
            bad("BTF_BAD_ENUM", `enum ${id} has invalid size ${sizeType}`, { id, size: sizeType });
          }
          const stride = kind === BTF_KIND_ENUM ? 8 : 12;
          for (let e = d; e < recEnd; e += stride) if (dv.getUint32(e, le) >= strLen) badName = dv.getUint32(e, le);
          break;
        }
        case BTF_KIND_FWD:
          mustBeZero(vlen, "vlen", id, kind);
          break;
        case BTF_KIND_FUNC:
          mustBeZero(kflag, "kind_flag", id, kind);
          if (vlen > 2) bad("BTF_BAD_VLEN", `func ${id} has invalid linkage ${vlen}`, { id, linkage: vlen });
          r1 = sizeType;
          break;
        case BTF_KIND_FUNC_PROTO:
          mustBeZero(kflag, "kind_flag", id, kind);
          r1 = sizeType;
          for (let p = d; p < recEnd; p += 8) {
            if (dv.getUint32(p, le) >= strLen) badName = dv.getUint32(p, le);
            const t = dv.getUint32(p + 4, le);
            if (t > r1) r1 = t;
          }
          break;
        case BTF_KIND_VAR:
          mustBeZero(vlen | kflag, "vlen and kind_flag", id, kind);
          r1 = sizeType;
          if (dv.getUint32(d, le) > 2) bad("BTF_BAD_VAR", `var ${id} has invalid linkage`, { id });
          break;
        case BTF_KIND_DATASEC:
          mustBeZero(kflag, "kind_flag", id, kind);
          for (let v = d; v < recEnd; v += 12) {
            const t = dv.getUint32(v, le);
            if (t > r1) r1 = t;
          }
          break;
        case BTF_KIND_FLOAT:
          mustBeZero(vlen | kflag, "vlen and kind_flag", id, kind);
          if (sizeType !== 2 && sizeType !== 4 && sizeType !== 8 && sizeType !== 12 && sizeType !== 16) {
            bad("BTF_BAD_FLOAT", `float ${id} has invalid size ${sizeType}`, { id, size: sizeType });
          }
          break;
        case BTF_KIND_DECL_TAG:
          mustBeZero(vlen, "vlen", id, kind);
          r1 = sizeType;
          if (dv.getInt32(d, le) < -1) bad("BTF_BAD_DECL_TAG", `decl_tag ${id} has invalid component_idx`, { id });
          break;
      }
      if (badName >= 0) bad("BTF_BAD_NAME_OFFSET", `type ${id} has name offset ${badName} past the string section`, { id, nameOff: badName });
      if (r1 > maxRef) {
        maxRef = r1;
        maxRefFrom = id;
      }
      offsets[id] = off;
      kinds[id] = kind;
      id++;
      off = recEnd;
    }
    if (maxRef >= id) {
      bad("BTF_BAD_TYPE_ID", `type ${maxRefFrom} refers to type id ${maxRef}, but only ${id - 1} types exist`, {
        id: maxRefFrom,
        ref: maxRef,
        count: id,
      });
    }
    offsets = offsets.slice(0, id);
    kinds = kinds.slice(0, id);
    return { offsets, kinds };
  }

  #inferPointerSize(): number {
    for (let id = 1; id < this.count; id++) {
      if (this.#kinds[id] !== BTF_KIND_INT) continue;
      const n = this.#str(this.#u32(this.#offsets[id]!));
      if (n === "long int" || n === "long unsigned int" || n === "long" || n === "unsigned long") {
        return this.#u32(this.#offsets[id]! + 8);
      }
    }
    return 8;
  }

  // -- strings ---------------------------------------------------------------------------

  #str(off: number): string {
    if (off === 0) return "";
    let s = this.#strings.get(off);
    if (s === undefined) {
      const start = this.#strBase + off;
      // The string section ends with NUL (checked), so the search always stops inside it.
      const end = this.#bytes.indexOf(0, start);
      s = utf8.decode(this.#bytes.subarray(start, end));
      this.#strings.set(off, s);
    }
    return s;
  }

  /** The string at an offset of the string section. */
  string(off: number): string {
    if (!Number.isInteger(off) || off < 0 || off >= this.#strLen) bad("BTF_BAD_NAME_OFFSET", `string offset ${off} out of range`, { offset: off });
    return this.#str(off);
  }

  // -- access ----------------------------------------------------------------------------

  #check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) bad("BTF_BAD_TYPE_ID", `type id ${id} out of range (0..${this.count - 1})`, { id });
  }

  /** Kind number (btf.h BTF_KIND_*) of a type id; 0 for void. */
  kindOf(id: number): number {
    this.#check(id);
    return this.#kinds[id]!;
  }

  kindName(id: number): BtfKindName {
    const k = this.kindOf(id);
    return k === 0 ? "void" : (BTF_KIND_NAMES[k] as BtfKindName);
  }

  /** Name of a type without decoding the rest of it ("" when anonymous). */
  nameOf(id: number): string {
    this.#check(id);
    return id === 0 ? "" : this.#str(this.#u32(this.#offsets[id]!));
  }

  /** The decoded type (cached). */
  type(id: number): BtfType {
    this.#check(id);
    if (id === 0) return VOID;
    let t = this.#cache[id];
    if (t === undefined) {
      t = this.#decode(id);
      this.#cache[id] = t;
    }
    return t;
  }

  /** All ids whose type has this name (any kind), in id order. */
  idsByName(name: string): readonly number[] {
    if (this.#byName === undefined) {
      const m = new Map<string, number[]>();
      for (let id = 1; id < this.count; id++) {
        const no = this.#u32(this.#offsets[id]!);
        if (no === 0) continue;
        const n = this.#str(no);
        const list = m.get(n);
        if (list) list.push(id);
        else m.set(n, [id]);
      }
      this.#byName = m;
    }
    return this.#byName.get(name) ?? [];
  }

  /** The first type id of the given kind and name, or undefined. */
  find(name: string, kind: BtfKindName): number | undefined {
    for (const id of this.idsByName(name)) if (this.kindName(id) === kind) return id;
    return undefined;
  }

  /** Follows typedefs, qualifiers and type tags to the underlying type id. */
  resolve(id: number): number {
    this.#check(id);
    let cur = id;
    for (let steps = 0; steps <= this.count; steps++) {
      const k = this.#kinds[cur]!;
      if (k !== BTF_KIND_TYPEDEF && k !== BTF_KIND_VOLATILE && k !== BTF_KIND_CONST && k !== BTF_KIND_RESTRICT && k !== BTF_KIND_TYPE_TAG) {
        return cur;
      }
      cur = this.#u32(this.#offsets[cur]! + 8);
    }
    return bad("BTF_TYPE_CYCLE", `type ${id}: cyclic typedef/qualifier chain`, { id });
  }

  /** Follows qualifiers and type tags only (keeps typedefs). */
  skipQualifiers(id: number): number {
    this.#check(id);
    let cur = id;
    for (let steps = 0; steps <= this.count; steps++) {
      const k = this.#kinds[cur]!;
      if (k !== BTF_KIND_VOLATILE && k !== BTF_KIND_CONST && k !== BTF_KIND_RESTRICT && k !== BTF_KIND_TYPE_TAG) return cur;
      cur = this.#u32(this.#offsets[cur]! + 8);
    }
    return bad("BTF_TYPE_CYCLE", `type ${id}: cyclic qualifier chain`, { id });
  }

  /** Size in bytes of a type as C's sizeof would give it. */
  sizeOf(id: number): number {
    let mult = 1;
    let cur = this.resolve(id);
    for (let steps = 0; steps <= this.count; steps++) {
      const k = this.#kinds[cur]!;
      const o = this.#offsets[cur]!;
      switch (k) {
        case 0:
          return 0;
        case BTF_KIND_INT:
        case BTF_KIND_ENUM:
        case BTF_KIND_ENUM64:
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
        case BTF_KIND_FLOAT:
        case BTF_KIND_DATASEC:
          return checkedSize(mult * this.#u32(o + 8), id);
        case BTF_KIND_PTR:
          return checkedSize(mult * this.pointerSize, id);
        case BTF_KIND_ARRAY: {
          mult *= this.#u32(o + 12 + 8);
          if (mult === 0) return 0;
          if (mult > 0xffffffff) bad("BTF_BAD_SIZE", `type ${id}: array size overflows`, { id });
          cur = this.resolve(this.#u32(o + 12));
          continue;
        }
        default:
          return bad("BTF_NO_SIZE", `type ${id} (${this.kindName(cur)}) has no size`, { id, kind: this.kindName(cur) });
      }
    }
    return bad("BTF_TYPE_CYCLE", `type ${id}: cyclic array chain`, { id });
  }

  // -- decoding --------------------------------------------------------------------------

  #decode(id: number): BtfType {
    const o = this.#offsets[id]!;
    const name = this.#str(this.#u32(o));
    const info = this.#u32(o + 4);
    const st = this.#u32(o + 8);
    const kind = this.#kinds[id]!;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const d = o + BTF_TYPE_LEN;
    switch (kind) {
      case BTF_KIND_INT: {
        const v = this.#u32(d);
        const enc = (v >>> 24) & 0x0f;
        return {
          kind: "int",
          id,
          name,
          size: st,
          signed: (enc & BTF_INT_SIGNED) !== 0,
          char: (enc & BTF_INT_CHAR) !== 0,
          bool: (enc & BTF_INT_BOOL) !== 0,
          bitOffset: (v >>> 16) & 0xff,
          bits: v & 0xff,
        };
      }
      case BTF_KIND_PTR:
        return { kind: "ptr", id, name, type: st };
      case BTF_KIND_ARRAY:
        return { kind: "array", id, name, elemType: this.#u32(d), indexType: this.#u32(d + 4), nelems: this.#u32(d + 8) };
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = d + 12 * i;
          const mName = this.#str(this.#u32(m));
          const mType = this.#u32(m + 4);
          const raw = this.#u32(m + 8);
          let bitOffset: number;
          let bitfieldSize: number;
          if (kflag) {
            bitOffset = raw & 0xffffff;
            bitfieldSize = raw >>> 24;
          } else {
            bitOffset = raw;
            bitfieldSize = 0;
            const r = this.resolve(mType);
            if (this.#kinds[r] === BTF_KIND_INT) {
              const v = this.#u32(this.#offsets[r]! + 12);
              const bits = v & 0xff;
              const intOff = (v >>> 16) & 0xff;
              if (intOff !== 0 || bits !== this.#u32(this.#offsets[r]! + 8) * 8) {
                bitfieldSize = bits;
                bitOffset += intOff;
              }
            }
          }
          members.push({ name: mName, type: mType, bitOffset, bitfieldSize });
        }
        return { kind: kind === BTF_KIND_STRUCT ? "struct" : "union", id, name, size: st, kflag, members };
      }
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64: {
        const values = [];
        for (let i = 0; i < vlen; i++) {
          if (kind === BTF_KIND_ENUM) {
            const e = d + 8 * i;
            const v = kflag ? this.#dv.getInt32(e + 4, this.#le) : this.#u32(e + 4);
            values.push({ name: this.#str(this.#u32(e)), value: BigInt(v) });
          } else {
            const e = d + 12 * i;
            const u = (BigInt(this.#u32(e + 8)) << 32n) | BigInt(this.#u32(e + 4));
            values.push({ name: this.#str(this.#u32(e)), value: kflag ? BigInt.asIntN(64, u) : u });
          }
        }
        return { kind: kind === BTF_KIND_ENUM ? "enum" : "enum64", id, name, size: st, signed: kflag, values };
      }
      case BTF_KIND_FWD:
        return { kind: "fwd", id, name, fwdKind: kflag ? "union" : "struct" };
      case BTF_KIND_TYPEDEF:
        return { kind: "typedef", id, name, type: st };
      case BTF_KIND_VOLATILE:
        return { kind: "volatile", id, name, type: st };
      case BTF_KIND_CONST:
        return { kind: "const", id, name, type: st };
      case BTF_KIND_RESTRICT:
        return { kind: "restrict", id, name, type: st };
      case BTF_KIND_TYPE_TAG:
        return { kind: "type_tag", id, name, type: st };
      case BTF_KIND_FUNC:
        return { kind: "func", id, name, type: st, linkage: vlen };
      case BTF_KIND_FUNC_PROTO: {
        const params = [];
        for (let i = 0; i < vlen; i++) params.push({ name: this.#str(this.#u32(d + 8 * i)), type: this.#u32(d + 8 * i + 4) });
        const last = params[params.length - 1];
        const variadic = last !== undefined && last.type === 0 && last.name === "";
        return { kind: "func_proto", id, name, returnType: st, params, variadic };
      }
      case BTF_KIND_VAR:
        return { kind: "var", id, name, type: st, linkage: this.#u32(d) };
      case BTF_KIND_DATASEC: {
        const vars = [];
        for (let i = 0; i < vlen; i++) {
          const e = d + 12 * i;
          vars.push({ type: this.#u32(e), offset: this.#u32(e + 4), size: this.#u32(e + 8) });
        }
        return { kind: "datasec", id, name, size: st, vars };
      }
      case BTF_KIND_FLOAT:
        return { kind: "float", id, name, size: st };
      case BTF_KIND_DECL_TAG:
        return { kind: "decl_tag", id, name, type: st, componentIdx: this.#dv.getInt32(d, this.#le), attribute: kflag };
      default:
        return bad("BTF_BAD_KIND", `type ${id} has unknown kind ${kind}`, { id, kind });
    }
  }
}

function mustBeZero(v: number, what: string, id: number, kind: number): void {
  if (v !== 0) bad("BTF_BAD_INFO", `type ${id} (${BTF_KIND_NAMES[kind]}) must have ${what} 0`, { id, kind });
}

function checkedSize(n: number, id: number): number {
  if (n > 0xffffffff) bad("BTF_BAD_SIZE", `type ${id}: size overflows`, { id });
  return n;
}

function readHeader(bytes: Uint8Array, dv: DataView): BtfHeader {
  if (bytes.length < BTF_HEADER_MIN_LEN) bad("BTF_TRUNCATED", `BTF blob of ${bytes.length} bytes is shorter than its header`, { size: bytes.length });
  let le: boolean;
  if (dv.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (dv.getUint16(0, false) === BTF_MAGIC) le = false;
  else return bad("BTF_BAD_MAGIC", `not BTF: magic ${dv.getUint16(0, true).toString(16)}`, { magic: dv.getUint16(0, true) });
  const version = dv.getUint8(2);
  const flags = dv.getUint8(3);
  const hdrLen = dv.getUint32(4, le);
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const details = { hdrLen, typeOff, typeLen, strOff, strLen, size: bytes.length };
  if (version !== BTF_VERSION) bad("BTF_BAD_VERSION", `unsupported BTF version ${version}`, { version });
  if (flags !== 0) bad("BTF_BAD_FLAGS", `BTF header flags ${flags} must be 0`, { flags });
  if (hdrLen < BTF_HEADER_MIN_LEN || hdrLen > bytes.length) bad("BTF_BAD_HEADER", `bad hdr_len ${hdrLen}`, details);
  if (hdrLen % 4 !== 0 || typeOff % 4 !== 0) bad("BTF_BAD_HEADER", "unaligned header or type section", details);
  const avail = bytes.length - hdrLen;
  if (typeOff + typeLen > avail || typeOff + typeLen < typeOff) bad("BTF_BAD_HEADER", "type section runs past the blob", details);
  if (strOff + strLen > avail || strOff + strLen < strOff) bad("BTF_BAD_HEADER", "string section runs past the blob", details);
  if (typeLen % 4 !== 0) bad("BTF_BAD_HEADER", "type section length is not a multiple of 4", details);
  if (typeOff < strOff ? typeOff + typeLen > strOff : strOff + strLen > typeOff) bad("BTF_BAD_HEADER", "type and string sections overlap", details);
  if (strLen === 0 || strLen > BTF_MAX_NAME_OFFSET + 1) bad("BTF_BAD_STRINGS", `bad string section length ${strLen}`, details);
  const s0 = hdrLen + strOff;
  if (bytes[s0] !== 0) bad("BTF_BAD_STRINGS", "string section does not start with the empty string", details);
  if (bytes[s0 + strLen - 1] !== 0) bad("BTF_BAD_STRINGS", "string section is not NUL-terminated", details);
  return { endian: le ? "little" : "big", version, flags, hdrLen, typeOff, typeLen, strOff, strLen };
}
