/**
 * The agent's measured configuration page — 00SEVen's own format. The host loads it as a
 * NORMAL launch page right after the agent image (seven-launch.ts), so the launch digest
 * and hence the attestation report reveal it: the owner's public key (only its holder may
 * open a v1 session), whether the prototype's unauthenticated v0 protocol is allowed, the
 * limits the agent enforces, and the machine shape the agent is launched into.
 *
 *   0x00 u32 MAGIC "7CFG"           0x04 u16 VERSION = 1       0x06 u16 FLAGS (bit 0 LEGACY_V0)
 *   0x08 u64 MEMORY_BYTES           0x10 u32 VCPUS
 *   0x14 u32 MAX_FRAME_BYTES        0x18 u32 MAX_BATCH_ENTRIES 0x1C u32 MAX_BATCH_BYTES
 *   0x20 u32 MAX_RANGE_BYTES        0x24 u32 MAX_TRAPS         0x28 u32 MAX_IN_FLIGHT
 *   0x2C u16 OWNER_KEY_LEN          0x2E..0x3F reserved (zero)
 *   0x40 OWNER_KEY: SubjectPublicKeyInfo DER (ECDSA P-256 or P-384), OWNER_KEY_LEN bytes
 *   then zero to the end of the page.
 *
 * Decoding is strict (untrusted bytes in `seven measure`; measured bytes in the agent):
 * length, magic, version, reserved flags and bytes, every limit in its range and consistent
 * with the others, a machine shape `computeLayout` accepts, a canonical EC SPKI, zero tail.
 */
import { createPublicKey } from "node:crypto";
import { DecodeError, bytesEqual, PAGE_SIZE, isAllZero } from "../shared/base/index.js";
import { computeLayout, defineLayout, mbz, u16, u32, u64f } from "../shared/spec/index.js";

export const CONFIG_MAGIC = 0x47464337; // "7CFG" little-endian
export const CONFIG_VERSION = 1;
export const CONFIG_HEADER_SIZE = 0x40;
export const MAX_OWNER_KEY_BYTES = 512;
export const CONFIG_FLAGS = { LEGACY_V0: 1 << 0 } as const;

export const AGENT_CONFIG_HEADER = defineLayout({
  name: "AGENT_CONFIG",
  size: CONFIG_HEADER_SIZE,
  source: "00SEVen agent configuration (src/agent/config.ts)",
  fields: [
    u32("magic", 0x00),
    u16("version", 0x04),
    u16("flags", 0x06),
    u64f("memoryBytes", 0x08),
    u32("vcpus", 0x10),
    u32("maxFrameBytes", 0x14),
    u32("maxBatchEntries", 0x18),
    u32("maxBatchBytes", 0x1c),
    u32("maxRangeBytes", 0x20),
    u32("maxTraps", 0x24),
    u32("maxInFlight", 0x28),
    u16("ownerKeyLen", 0x2c),
    mbz("reserved", 0x2e, 0x12),
  ],
});

export interface AgentLimits {
  /** Largest protobuf frame (without its prefix) either way. */
  readonly maxFrameBytes: number;
  /** Most ranges/writes/addresses/registers in one request. */
  readonly maxBatchEntries: number;
  /** Most bytes read or written by one request. */
  readonly maxBatchBytes: number;
  /** Most bytes in one range. */
  readonly maxRangeBytes: number;
  /** Most traps armed at once (all sessions). */
  readonly maxTraps: number;
  /** Most requests of one session received and not yet answered. */
  readonly maxInFlight: number;
}

export interface AgentConfig {
  /** The owner's public key (SPKI DER, ECDSA P-256/P-384); without it no v1 session opens. */
  readonly ownerKey: Uint8Array | undefined;
  readonly legacyV0: boolean;
  readonly limits: AgentLimits;
  readonly memoryBytes: bigint;
  readonly vcpus: number;
}

export const DEFAULT_LIMITS: AgentLimits = {
  maxFrameBytes: (1 << 20) + (256 << 10),
  maxBatchEntries: 4096,
  maxBatchBytes: 1 << 20,
  maxRangeBytes: 1 << 20,
  maxTraps: 256,
  maxInFlight: 64,
};

/** Inclusive ranges of each limit. */
export const LIMIT_RANGES: { readonly [K in keyof AgentLimits]: readonly [number, number] } = {
  maxFrameBytes: [64 << 10, 16 << 20],
  maxBatchEntries: [1, 65536],
  maxBatchBytes: [4096, 8 << 20],
  maxRangeBytes: [4096, 8 << 20],
  maxTraps: [1, 4096],
  maxInFlight: [1, 1024],
};

/** Per-entry protobuf overhead a frame must leave room for (tag, lengths, status, address). */
export const BATCH_ENTRY_OVERHEAD = 24;
/** Fixed room for envelopes, register sets and the like. */
export const FRAME_SLACK = 16 << 10;

export class ConfigError extends DecodeError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, `agent configuration: ${message}`, details);
  }
}

export const OWNER_KEY_CURVES = ["prime256v1", "secp384r1"] as const;

/** Checks an owner key: canonical SPKI DER of an EC P-256 or P-384 public key. */
export function checkOwnerKey(der: Uint8Array): void {
  if (der.length === 0 || der.length > MAX_OWNER_KEY_BYTES) throw new ConfigError("BAD_OWNER_KEY", `owner key is ${der.length} bytes`, { length: der.length });
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
  } catch {
    throw new ConfigError("BAD_OWNER_KEY", "owner key is not a SubjectPublicKeyInfo");
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || !OWNER_KEY_CURVES.includes(curve as (typeof OWNER_KEY_CURVES)[number])) {
    throw new ConfigError("BAD_OWNER_KEY", "owner key must be ECDSA P-256 or P-384", { type: key.asymmetricKeyType, curve });
  }
  const canonical = new Uint8Array(key.export({ format: "der", type: "spki" }));
  if (!bytesEqual(canonical, der)) throw new ConfigError("BAD_OWNER_KEY", "owner key is not in canonical SPKI DER (uncompressed point)");
}

function checkLimits(l: AgentLimits): void {
  for (const k of Object.keys(LIMIT_RANGES) as (keyof AgentLimits)[]) {
    const v = l[k];
    const [lo, hi] = LIMIT_RANGES[k];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError("BAD_LIMIT", `${k} = ${v} outside ${lo}..${hi}`, { limit: k, value: v, min: lo, max: hi });
  }
  if (l.maxRangeBytes > l.maxBatchBytes) throw new ConfigError("BAD_LIMIT", "maxRangeBytes exceeds maxBatchBytes", { limit: "maxRangeBytes" });
  const need = l.maxBatchBytes + l.maxBatchEntries * BATCH_ENTRY_OVERHEAD + FRAME_SLACK;
  if (l.maxFrameBytes < need) {
    throw new ConfigError("BAD_LIMIT", `maxFrameBytes ${l.maxFrameBytes} cannot hold a full batch (${need})`, { limit: "maxFrameBytes", need });
  }
}

function checkShape(memoryBytes: bigint, vcpus: number): void {
  try {
    computeLayout({ memoryBytes, vcpus });
  } catch (e) {
    throw new ConfigError("BAD_SHAPE", e instanceof Error ? e.message : "bad machine shape", { memoryBytes, vcpus });
  }
}

/** Encodes a configuration (validated first). The result is ≤ one page. */
export function encodeAgentConfig(cfg: AgentConfig): Uint8Array {
  checkLimits(cfg.limits);
  checkShape(cfg.memoryBytes, cfg.vcpus);
  const key = cfg.ownerKey ?? new Uint8Array(0);
  if (cfg.ownerKey !== undefined) checkOwnerKey(cfg.ownerKey);
  const out = new Uint8Array(CONFIG_HEADER_SIZE + key.length);
  AGENT_CONFIG_HEADER.serialize(
    {
      magic: CONFIG_MAGIC,
      version: CONFIG_VERSION,
      flags: cfg.legacyV0 ? CONFIG_FLAGS.LEGACY_V0 : 0,
      memoryBytes: cfg.memoryBytes,
      vcpus: cfg.vcpus,
      ...cfg.limits,
      ownerKeyLen: key.length,
    },
    out,
    0,
  );
  out.set(key, CONFIG_HEADER_SIZE);
  return out;
}

/**
 * Decodes a configuration: exactly the encoded bytes, or a whole page whose tail is zero.
 * Throws ConfigError (a DecodeError) and nothing else.
 */
export function decodeAgentConfig(bytes: Uint8Array): AgentConfig {
  if (bytes.length < CONFIG_HEADER_SIZE || bytes.length > PAGE_SIZE) {
    throw new ConfigError("BAD_LENGTH", `${bytes.length} bytes (need ${CONFIG_HEADER_SIZE}..${PAGE_SIZE})`, { length: bytes.length });
  }
  const magic = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
  if (magic >>> 0 !== CONFIG_MAGIC) throw new ConfigError("BAD_MAGIC", "not an agent configuration");
  const version = bytes[4]! | (bytes[5]! << 8);
  if (version !== CONFIG_VERSION) throw new ConfigError("UNSUPPORTED_VERSION", `version ${version}`, { version });
  let h;
  try {
    h = AGENT_CONFIG_HEADER.parse(bytes, 0);
  } catch (e) {
    throw new ConfigError("RESERVED_NONZERO", "reserved header bytes are not zero", { cause: e instanceof Error ? e.message : "" });
  }
  if ((h.flags & ~CONFIG_FLAGS.LEGACY_V0) !== 0) throw new ConfigError("RESERVED_NONZERO", `undefined flag bits 0x${h.flags.toString(16)}`, { flags: h.flags });
  const end = CONFIG_HEADER_SIZE + h.ownerKeyLen;
  if (h.ownerKeyLen > MAX_OWNER_KEY_BYTES || end > bytes.length) {
    throw new ConfigError("BAD_OWNER_KEY", `owner key length ${h.ownerKeyLen} does not fit`, { length: h.ownerKeyLen });
  }
  if (!isAllZero(bytes.subarray(end))) throw new ConfigError("TRAILING_BYTES", "bytes after the owner key are not zero", { offset: end });
  const limits: AgentLimits = {
    maxFrameBytes: h.maxFrameBytes,
    maxBatchEntries: h.maxBatchEntries,
    maxBatchBytes: h.maxBatchBytes,
    maxRangeBytes: h.maxRangeBytes,
    maxTraps: h.maxTraps,
    maxInFlight: h.maxInFlight,
  };
  checkLimits(limits);
  checkShape(h.memoryBytes, h.vcpus);
  const ownerKey = h.ownerKeyLen > 0 ? bytes.slice(CONFIG_HEADER_SIZE, end) : undefined;
  if (ownerKey !== undefined) checkOwnerKey(ownerKey);
  return { ownerKey, legacyV0: (h.flags & CONFIG_FLAGS.LEGACY_V0) !== 0, limits, memoryBytes: h.memoryBytes, vcpus: h.vcpus };
}
