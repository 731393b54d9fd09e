/**
 * The pushed `Response{event}` frame of a trap hit, written straight from the VMSA bytes:
 * byte for byte what `encodeMessageFrame(v1.ResponseSchema, …)` makes of the Response
 * (id 0, status OK) whose Event carries `registerSet(vcpu, vmsa, stopped)`, without
 * building the RegisterSet message (about fifty BigInts and ten nested messages) or going
 * through protobuf-es's generic encoder. On the way out of a trap hit those two were the
 * agent's largest cost.
 *
 * Encoding rules followed (protobuf-es, proto3): fields in field-number order; zero
 * scalars and false are not written; a set message field is written even when empty;
 * enums are int32 varints. Field numbers come from the generated descriptors; which VMSA
 * bytes each register comes from, from the same table as `registerSet` (registers.ts).
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { v1 } from "../../shared/protocol/index.js";
import { VMSA } from "../../shared/spec/index.js";
import { CPL_OFFSET, VMSA_REG } from "./registers.js";
import type { RegField } from "./registers.js";

/** The Event's own fields (its registers come from the VMSA). */
export interface EventFields {
  readonly eventId: bigint;
  readonly trapId: bigint;
  readonly vcpu: number;
  readonly access: number;
  readonly gpa: bigint;
  readonly gva: bigint;
  readonly gvaKnown: boolean;
  readonly timeNs: bigint;
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

type Op =
  | { readonly kind: "u64"; readonly tag: number; readonly f: RegField }
  | { readonly kind: "segment"; readonly tag: number; readonly at: number }
  | { readonly kind: "table"; readonly tag: number; readonly at: number }
  | { readonly kind: "vcpu" | "cpl" | "stopped"; readonly tag: number };

function fieldTag(schema: DescMessage, localName: string, wire: number): number {
  const f = schema.field[localName];
  if (f === undefined) throw new Error(`${schema.typeName} has no field ${localName}`);
  return (f.number << 3) | wire;
}

/** RegisterSet, field by field in number order, with where each value lives in the VMSA. */
const REGISTER_OPS: readonly Op[] = v1.RegisterSetSchema.fields.map((f): Op => {
  const wire = f.fieldKind === "message" ? WIRE_LEN : WIRE_VARINT;
  const tag = (f.number << 3) | wire;
  if (f.name === "vcpu" || f.name === "cpl" || f.name === "stopped") return { kind: f.name, tag };
  if (f.fieldKind === "message") {
    const at = VMSA.field(`${f.name}_selector` as (typeof VMSA.fields)[number]["name"]).offset;
    return { kind: f.message.typeName === v1.SegmentSchema.typeName ? "segment" : "table", tag, at };
  }
  const reg = (VMSA_REG as Record<string, RegField | undefined>)[f.name];
  if (reg === undefined) throw new Error(`RegisterSet.${f.name} has no VMSA field`);
  return { kind: "u64", tag, f: reg };
});

const SEG = {
  selector: fieldTag(v1.SegmentSchema, "selector", WIRE_VARINT),
  attrib: fieldTag(v1.SegmentSchema, "attrib", WIRE_VARINT),
  limit: fieldTag(v1.SegmentSchema, "limit", WIRE_VARINT),
  base: fieldTag(v1.SegmentSchema, "base", WIRE_VARINT),
};
const TABLE = { base: fieldTag(v1.DescriptorTableSchema, "base", WIRE_VARINT), limit: fieldTag(v1.DescriptorTableSchema, "limit", WIRE_VARINT) };
const EV = {
  eventId: fieldTag(v1.EventSchema, "eventId", WIRE_VARINT),
  trapId: fieldTag(v1.EventSchema, "trapId", WIRE_VARINT),
  vcpu: fieldTag(v1.EventSchema, "vcpu", WIRE_VARINT),
  access: fieldTag(v1.EventSchema, "access", WIRE_VARINT),
  gpa: fieldTag(v1.EventSchema, "gpa", WIRE_VARINT),
  gva: fieldTag(v1.EventSchema, "gva", WIRE_VARINT),
  gvaKnown: fieldTag(v1.EventSchema, "gvaKnown", WIRE_VARINT),
  registers: fieldTag(v1.EventSchema, "registers", WIRE_LEN),
  timeNs: fieldTag(v1.EventSchema, "timeNs", WIRE_VARINT),
};
const RESPONSE_EVENT = fieldTag(v1.ResponseSchema, "event", WIRE_LEN);

/** Room in front of the Event for the frame prefix, the Response's event tag and the Event's length. */
const HEAD_ROOM = 16;
/** More than any RegisterSet (49 varints of at most 10 bytes with their tags, 10 small messages). */
const REGS_MAX = 1024;
const regs = new Uint8Array(REGS_MAX);
const out = new Uint8Array(HEAD_ROOM + REGS_MAX + 128);

function varint32(b: Uint8Array, at: number, v: number): number {
  while (v > 0x7f) {
    b[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[at++] = v;
  return at;
}

function varint64(b: Uint8Array, at: number, lo: number, hi: number): number {
  while (hi !== 0 || lo > 0x7f) {
    b[at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[at++] = lo;
  return at;
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v >>>= 7;
    n++;
  }
  return n;
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A uint32 field (not written when zero). */
function put32(b: Uint8Array, at: number, tag: number, v: number): number {
  return v === 0 ? at : varint32(b, varint32(b, at, tag), v);
}

/** A uint64 field given as two 32-bit halves (not written when zero). */
function put64(b: Uint8Array, at: number, tag: number, lo: number, hi: number): number {
  return lo === 0 && hi === 0 ? at : varint64(b, varint32(b, at, tag), lo, hi);
}

function putBig(b: Uint8Array, at: number, tag: number, v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return put64(b, at, tag, Number(u & 0xffff_ffffn), Number(u >> 32n));
}

/** A nested message written at `at`: its tag, then `body` (written by `fill` after a one-byte length, moved if longer). */
function nested(b: Uint8Array, at: number, tag: number, fill: (b: Uint8Array, at: number) => number): number {
  at = varint32(b, at, tag);
  const start = at + 1;
  const end = fill(b, start);
  const len = end - start;
  if (len <= 0x7f) {
    b[at] = len;
    return end;
  }
  const n = varintSize(len);
  b.copyWithin(at + n, start, end);
  varint32(b, at, len);
  return at + n + len;
}

/** RegisterSet of `vmsa` into `b` from 0; returns its length. */
function registerSetBody(b: Uint8Array, vcpu: number, vmsa: Uint8Array, stopped: boolean): number {
  let at = 0;
  for (const op of REGISTER_OPS) {
    switch (op.kind) {
      case "vcpu":
        at = put32(b, at, op.tag, vcpu >>> 0);
        break;
      case "u64": {
        const { offset, size } = op.f;
        at = size === 8 ? put64(b, at, op.tag, u32(vmsa, offset), u32(vmsa, offset + 4)) : put32(b, at, op.tag, size === 4 ? u32(vmsa, offset) : u16(vmsa, offset));
        break;
      }
      case "segment": {
        const s = op.at;
        at = nested(b, at, op.tag, (b2, a) => {
          a = put32(b2, a, SEG.selector, u16(vmsa, s));
          a = put32(b2, a, SEG.attrib, u16(vmsa, s + 2));
          a = put32(b2, a, SEG.limit, u32(vmsa, s + 4));
          return put64(b2, a, SEG.base, u32(vmsa, s + 8), u32(vmsa, s + 12));
        });
        break;
      }
      case "table": {
        const s = op.at;
        at = nested(b, at, op.tag, (b2, a) => put32(b2, put64(b2, a, TABLE.base, u32(vmsa, s + 8), u32(vmsa, s + 12)), TABLE.limit, u32(vmsa, s + 4)));
        break;
      }
      case "cpl":
        at = put32(b, at, op.tag, vmsa[CPL_OFFSET] ?? 0);
        break;
      case "stopped":
        if (stopped) at = varint32(b, varint32(b, at, op.tag), 1);
        break;
    }
  }
  return at;
}

/** The whole frame (varint length prefix + Response{event}) of one trap hit; `vmsa`: the context's VMSA at the hit. */
export function encodeEventFrame(e: EventFields, vmsa: Uint8Array, stopped = true): Uint8Array {
  const regsLen = registerSetBody(regs, e.vcpu, vmsa, stopped);
  const b = out;
  let at = HEAD_ROOM;
  at = putBig(b, at, EV.eventId, e.eventId);
  at = putBig(b, at, EV.trapId, e.trapId);
  at = put32(b, at, EV.vcpu, e.vcpu >>> 0);
  if (e.access !== 0) at = e.access < 0 ? varint64(b, varint32(b, at, EV.access), e.access >>> 0, 0xffff_ffff) : varint32(b, varint32(b, at, EV.access), e.access);
  at = putBig(b, at, EV.gpa, e.gpa);
  at = putBig(b, at, EV.gva, e.gva);
  if (e.gvaKnown) at = varint32(b, varint32(b, at, EV.gvaKnown), 1);
  at = varint32(b, varint32(b, at, EV.registers), regsLen);
  b.set(regs.subarray(0, regsLen), at);
  at += regsLen;
  at = putBig(b, at, EV.timeNs, e.timeNs);
  // In front of the Event: the frame's length, Response.event's tag, the Event's length.
  const eventLen = at - HEAD_ROOM;
  const responseLen = varintSize(RESPONSE_EVENT) + varintSize(eventLen) + eventLen;
  const start = HEAD_ROOM - varintSize(responseLen) - varintSize(RESPONSE_EVENT) - varintSize(eventLen);
  varint32(b, varint32(b, varint32(b, start, responseLen), RESPONSE_EVENT), eventLen);
  return b.slice(start, at);
}
