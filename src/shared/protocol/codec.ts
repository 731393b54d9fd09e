/**
 * Message codec helpers over protobuf-es v2: decoding untrusted bytes into a typed
 * DecodeError (never anything else), and the proto2 required-field check the v0 protocol
 * needs (protobuf-es parses a proto2 message with missing required fields without
 * complaint; LEGACY-PROTOCOL.md makes every field required on the wire).
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { DecodeError } from "../base/index.js";
import { encodeFrame } from "./framing.js";

export class MessageDecodeError extends DecodeError {
  constructor(code: "BAD_MESSAGE" | "MISSING_REQUIRED", message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/**
 * Parses `bytes` as `schema`. Unknown fields are dropped (not retained for re-encoding),
 * nesting is limited. Throws MessageDecodeError BAD_MESSAGE on malformed input.
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array, recursionLimit = 16): MessageShape<Desc> {
  try {
    return fromBinary(schema, bytes, { readUnknownFields: false, recursionLimit });
  } catch (e) {
    throw new MessageDecodeError("BAD_MESSAGE", `malformed ${schema.typeName}`, {
      type: schema.typeName,
      length: bytes.length,
      reason: e instanceof Error ? e.message.slice(0, 120) : "unknown",
    });
  }
}

/** Encodes a message and its varint length prefix into one buffer. */
export function encodeMessageFrame<Desc extends DescMessage>(schema: Desc, msg: MessageShape<Desc>): Uint8Array {
  return encodeFrame(toBinary(schema, msg));
}

/**
 * Paths of the proto2 `required` fields that are not set, recursively through set message
 * fields and the selected member of each oneof. Empty when the message is complete.
 */
export function missingRequiredFields<Desc extends DescMessage>(schema: Desc, msg: MessageShape<Desc>, limit = 16): string[] {
  const out: string[] = [];
  walk(reflect(schema, msg), schema.typeName, out, limit);
  return out;
}

function walk(r: ReflectMessage, path: string, out: string[], depth: number): void {
  if (depth <= 0) {
    out.push(`${path}: nesting too deep`);
    return;
  }
  for (const f of r.fields) {
    const set = r.isSet(f);
    if (!set) {
      if (f.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED) out.push(`${path}.${f.name}`);
      continue;
    }
    if (f.fieldKind === "message") walk(r.get(f), `${path}.${f.name}`, out, depth - 1);
  }
}

/** Throws MessageDecodeError MISSING_REQUIRED unless every required field is set. */
export function assertRequiredFields<Desc extends DescMessage>(schema: Desc, msg: MessageShape<Desc>): void {
  const missing = missingRequiredFields(schema, msg);
  if (missing.length > 0) {
    throw new MessageDecodeError("MISSING_REQUIRED", `${schema.typeName}: required field(s) missing: ${missing.slice(0, 4).join(", ")}`, {
      type: schema.typeName,
      missing,
    });
  }
}
