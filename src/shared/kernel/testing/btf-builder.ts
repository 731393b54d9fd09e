/**
 * Test helper: builds BTF blobs type by type, in either byte order, including invalid ones
 * (raw records, forward references, cycles). Ids are assigned in call order from 1, so a
 * test can refer to a type it has not added yet by its future id.
 */
import {
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
  BTF_KIND_PTR,
  BTF_KIND_RESTRICT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPEDEF,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
} from "../btf-format.js";

export type MemberSpec = readonly [name: string, type: number, bitOffset: number, bitfieldSize?: number];

export class BtfBuilder {
  readonly le: boolean;
  readonly #strs: number[] = [0];
  readonly #strOff = new Map<string, number>([["", 0]]);
  readonly #types: number[][] = [];

  constructor(endian: "little" | "big" = "little") {
    this.le = endian === "little";
  }

  /** Id the next added type will get. */
  get nextId(): number {
    return this.#types.length + 1;
  }

  str(s: string): number {
    let o = this.#strOff.get(s);
    if (o === undefined) {
      o = this.#strs.length;
      for (const b of new TextEncoder().encode(s)) this.#strs.push(b);
      this.#strs.push(0);
      this.#strOff.set(s, o);
    }
    return o;
  }

  /** A raw record: name_off, info, size/type, then extra u32 words. */
  raw(nameOff: number, info: number, sizeOrType: number, extra: readonly number[] = []): number {
    this.#types.push([nameOff, info >>> 0, sizeOrType >>> 0, ...extra.map((x) => x >>> 0)]);
    return this.#types.length;
  }

  #rec(name: string, kind: number, vlen: number, kflag: boolean, sizeOrType: number, extra: readonly number[] = []): number {
    const info = ((kflag ? 1 : 0) << 31) | (kind << 24) | (vlen & 0xffff);
    return this.raw(this.str(name), info, sizeOrType, extra);
  }

  int(name: string, size: number, o: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; offset?: number } = {}): number {
    const enc = (o.signed ? 1 : 0) | (o.char ? 2 : 0) | (o.bool ? 4 : 0);
    return this.#rec(name, BTF_KIND_INT, 0, false, size, [(enc << 24) | ((o.offset ?? 0) << 16) | (o.bits ?? size * 8)]);
  }
  ptr(type: number): number {
    return this.#rec("", BTF_KIND_PTR, 0, false, type);
  }
  array(elem: number, index: number, nelems: number): number {
    return this.#rec("", BTF_KIND_ARRAY, 0, false, 0, [elem, index, nelems]);
  }
  #composite(kind: number, name: string, size: number, members: readonly MemberSpec[], kflag: boolean): number {
    const extra: number[] = [];
    for (const [n, t, off, bits] of members) extra.push(this.str(n), t, kflag ? ((bits ?? 0) << 24) | off : off);
    return this.#rec(name, kind, members.length, kflag, size, extra);
  }
  struct(name: string, size: number, members: readonly MemberSpec[], kflag = members.some((m) => (m[3] ?? 0) > 0)): number {
    return this.#composite(BTF_KIND_STRUCT, name, size, members, kflag);
  }
  union(name: string, size: number, members: readonly MemberSpec[], kflag = members.some((m) => (m[3] ?? 0) > 0)): number {
    return this.#composite(BTF_KIND_UNION, name, size, members, kflag);
  }
  enum(name: string, size: number, values: readonly (readonly [string, number])[], signed = false): number {
    const extra: number[] = [];
    for (const [n, v] of values) extra.push(this.str(n), v);
    return this.#rec(name, BTF_KIND_ENUM, values.length, signed, size, extra);
  }
  enum64(name: string, size: number, values: readonly (readonly [string, bigint])[], signed = false): number {
    const extra: number[] = [];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      extra.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.#rec(name, BTF_KIND_ENUM64, values.length, signed, size, extra);
  }
  fwd(name: string, union = false): number {
    return this.#rec(name, BTF_KIND_FWD, 0, union, 0);
  }
  typedef(name: string, type: number): number {
    return this.#rec(name, BTF_KIND_TYPEDEF, 0, false, type);
  }
  volatile(type: number): number {
    return this.#rec("", BTF_KIND_VOLATILE, 0, false, type);
  }
  const(type: number): number {
    return this.#rec("", BTF_KIND_CONST, 0, false, type);
  }
  restrict(type: number): number {
    return this.#rec("", BTF_KIND_RESTRICT, 0, false, type);
  }
  func(name: string, proto: number, linkage = 1): number {
    return this.#rec(name, BTF_KIND_FUNC, linkage, false, proto);
  }
  funcProto(ret: number, params: readonly (readonly [string, number])[]): number {
    const extra: number[] = [];
    for (const [n, t] of params) extra.push(this.str(n), t);
    return this.#rec("", BTF_KIND_FUNC_PROTO, params.length, false, ret, extra);
  }
  var(name: string, type: number, linkage = 1): number {
    return this.#rec(name, BTF_KIND_VAR, 0, false, type, [linkage]);
  }
  datasec(name: string, size: number, vars: readonly (readonly [type: number, offset: number, size: number])[]): number {
    const extra: number[] = [];
    for (const [t, o, s] of vars) extra.push(t, o, s);
    return this.#rec(name, BTF_KIND_DATASEC, vars.length, false, size, extra);
  }
  float(name: string, size: number): number {
    return this.#rec(name, BTF_KIND_FLOAT, 0, false, size);
  }
  declTag(name: string, type: number, componentIdx: number, attribute = false): number {
    return this.#rec(name, BTF_KIND_DECL_TAG, 0, attribute, type, [componentIdx]);
  }
  typeTag(name: string, type: number, attribute = false): number {
    return this.#rec(name, BTF_KIND_TYPE_TAG, 0, attribute, type);
  }

  /** The blob: header (24 bytes), type section, string section. */
  build(o: { version?: number; flags?: number } = {}): Uint8Array {
    const words = this.#types.flat();
    const typeLen = words.length * 4;
    const strLen = this.#strs.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, this.le);
    out[2] = o.version ?? 1;
    out[3] = o.flags ?? 0;
    dv.setUint32(4, 24, this.le);
    dv.setUint32(8, 0, this.le);
    dv.setUint32(12, typeLen, this.le);
    dv.setUint32(16, typeLen, this.le);
    dv.setUint32(20, strLen, this.le);
    words.forEach((w, i) => dv.setUint32(24 + 4 * i, w, this.le));
    out.set(this.#strs, 24 + typeLen);
    return out;
  }
}

/**
 * A small BTF with every kind, bitfields in both encodings, anonymous members and an
 * anonymous enum; used by unit and property tests. Returns the blob and the ids.
 */
export function sampleBtf(endian: "little" | "big" = "little"): { bytes: Uint8Array; ids: Record<string, number> } {
  const b = new BtfBuilder(endian);
  const ids: Record<string, number> = {};
  ids["uint"] = b.int("unsigned int", 4); // 1
  ids["int"] = b.int("int", 4, { signed: true }); // 2
  ids["char"] = b.int("char", 1, { signed: true }); // 3
  ids["ulong"] = b.int("long unsigned int", 8); // 4
  ids["bool"] = b.int("_Bool", 1, { bool: true }); // 5
  ids["u3"] = b.int("unsigned int", 4, { bits: 3 }); // 6: kflag=0 bitfield int (3 bits)
  ids["list_head"] = b.nextId; // 7
  ids["list_head_ptr"] = 8;
  b.struct("list_head", 16, [
    ["next", 8, 0],
    ["prev", 8, 64],
  ]);
  b.ptr(ids["list_head"]); // 8
  ids["char16"] = b.array(ids["char"], ids["int"], 16); // 9
  ids["state"] = b.enum("task_state", 4, [["RUNNING", 0], ["STOPPED", 4]]); // 10
  ids["anon_enum"] = b.enum("", 4, [["NEG", -1], ["POS", 1]], true); // 11
  ids["big_enum"] = b.enum64("big", 8, [["TOP", 0xffff000000000000n], ["ONE", 1n]]); // 12
  ids["fwd_mm"] = b.fwd("mm_struct"); // 13
  ids["mm_ptr"] = b.ptr(ids["fwd_mm"]); // 14
  ids["pid_t"] = b.typedef("pid_t", ids["int"]); // 15
  ids["vol_int"] = b.volatile(ids["int"]); // 16
  ids["const_pid"] = b.const(ids["pid_t"]); // 17
  ids["restrict_ptr"] = b.restrict(ids["list_head_ptr"]); // 18
  ids["proto"] = b.funcProto(ids["int"], [["a", ids["int"]], ["", 0]]); // 19 (variadic)
  ids["func"] = b.func("do_thing", ids["proto"], 1); // 20
  ids["fn_ptr"] = b.ptr(ids["proto"]); // 21
  ids["anon_union"] = b.union("", 8, [
    ["rcu_users", ids["int"], 0],
    ["rcu", ids["ulong"], 0],
  ]); // 22
  ids["anon_struct"] = b.struct("", 8, [
    ["a", ids["int"], 0],
    ["b", ids["int"], 32],
  ]); // 23
  ids["task_struct"] = b.struct(
    "task_struct",
    96,
    [
      ["state", ids["vol_int"], 0],
      ["flag_a", ids["uint"], 32, 1],
      ["flag_b", ids["uint"], 33, 3],
      ["wide", ids["ulong"], 66, 62],
      ["tasks", ids["list_head"], 128],
      ["mm", ids["mm_ptr"], 256],
      ["pid", ids["const_pid"], 320],
      ["kind", ids["state"], 352],
      ["", ids["anon_union"], 384],
      ["", ids["anon_struct"], 448],
      ["comm", ids["char16"], 512],
      ["fn", ids["fn_ptr"], 640],
      ["sign", ids["anon_enum"], 704],
    ],
    true,
  ); // 24
  ids["old_bits"] = b.struct("old_bits", 4, [
    ["x", ids["u3"], 0],
    ["y", ids["u3"], 3],
  ], false); // 25: kflag=0 bitfields through INT bits
  ids["mm_struct"] = b.struct("mm_struct", 16, [["pgd", ids["ulong"], 64]]); // 26
  ids["float"] = b.float("float", 4); // 27
  ids["percpu_var"] = b.var("current_task", b.nextId + 1, 1); // 28 → 29
  ids["task_ptr"] = b.ptr(ids["task_struct"]); // 29
  ids["datasec"] = b.datasec(".data..percpu", 64, [[ids["percpu_var"], 16, 8]]); // 30
  ids["decl_tag"] = b.declTag("user", ids["task_struct"], 1); // 31
  ids["type_tag"] = b.typeTag("rcu", ids["task_struct"]); // 32
  ids["tagged_ptr"] = b.ptr(ids["type_tag"]); // 33
  return { bytes: b.build(), ids };
}
