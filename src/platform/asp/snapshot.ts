/**
 * ASP snapshots: plain JSON-safe objects (hex strings for bytes and u64s), so the machine
 * can persist them with JSON.stringify. Holds the key seed (ARK/ASK/VCEK/CHIP_ID derive from
 * it), the certificate issuance time, and the guest context: launch phase and digest,
 * policy, identity, VMPCKs, per-VMPCK sequence numbers, REPORT_ID, HOST_DATA.
 * `decodeAspSnapshot` checks every field and throws PlatformError("SNAPSHOT").
 */
import { PlatformError } from "../fault.js";
import type { Product } from "./hardware.js";
import type { GuestContext, LaunchPhase } from "./guest-context.js";

export const ASP_SNAPSHOT_KIND = "00seven.asp";
export const ASP_SNAPSHOT_VERSION = 1;

export interface AspState {
  readonly product: Product;
  readonly chipSeed: Uint8Array;
  readonly issuedAtMs: number;
  readonly guest: GuestContext;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const u64hex = (v: bigint) => "0x" + v.toString(16);

export function encodeAspSnapshot(s: AspState): unknown {
  const g = s.guest;
  return {
    kind: ASP_SNAPSHOT_KIND,
    version: ASP_SNAPSHOT_VERSION,
    product: s.product,
    chipSeed: hex(s.chipSeed),
    issuedAtMs: s.issuedAtMs,
    guest: {
      phase: g.phase,
      policy: u64hex(g.policy),
      gosvw: hex(g.gosvw),
      digest: hex(g.digest),
      vmpck: g.vmpck.map(hex),
      nextSeqno: g.nextSeqno.map(u64hex),
      reportId: hex(g.reportId),
      hostData: hex(g.hostData),
      familyId: hex(g.familyId),
      imageId: hex(g.imageId),
      guestSvn: g.guestSvn,
      idKeyDigest: hex(g.idKeyDigest),
      authorKeyDigest: hex(g.authorKeyDigest),
      authorKeyEn: g.authorKeyEn,
      launchTcb: u64hex(g.launchTcb),
    },
  };
}

function bad(what: string): PlatformError {
  return new PlatformError("SNAPSHOT", `ASP snapshot: bad ${what}`, { field: what });
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(what);
  return v as Record<string, unknown>;
}

function bytesField(o: Record<string, unknown>, k: string, len: number): Uint8Array {
  const v = o[k];
  if (typeof v !== "string" || v.length !== 2 * len || !/^[0-9a-f]*$/.test(v)) throw bad(k);
  return new Uint8Array(Buffer.from(v, "hex"));
}

function u64Field(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^0x[0-9a-f]{1,16}$/.test(v)) throw bad(what);
  return BigInt(v);
}

function arrayField(o: Record<string, unknown>, k: string, n: number): unknown[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length !== n) throw bad(k);
  return v;
}

const PHASES: readonly LaunchPhase[] = ["none", "launching", "running"];
const PRODUCTS: readonly Product[] = ["milan", "genoa", "turin"];

export function decodeAspSnapshot(s: unknown): AspState {
  const o = obj(s, "snapshot");
  if (o.kind !== ASP_SNAPSHOT_KIND) throw bad("kind");
  if (o.version !== ASP_SNAPSHOT_VERSION) throw bad("version");
  const product = o.product;
  if (typeof product !== "string" || !PRODUCTS.includes(product as Product)) throw bad("product");
  const issuedAtMs = o.issuedAtMs;
  if (typeof issuedAtMs !== "number" || !Number.isSafeInteger(issuedAtMs)) throw bad("issuedAtMs");
  const g = obj(o.guest, "guest");
  const phase = g.phase;
  if (typeof phase !== "string" || !PHASES.includes(phase as LaunchPhase)) throw bad("phase");
  const guestSvn = g.guestSvn;
  if (typeof guestSvn !== "number" || !Number.isInteger(guestSvn) || guestSvn < 0 || guestSvn > 0xffff_ffff) throw bad("guestSvn");
  if (typeof g.authorKeyEn !== "boolean") throw bad("authorKeyEn");
  const vmpck = arrayField(g, "vmpck", 4).map((v, i) => bytesField({ [`vmpck${i}`]: v }, `vmpck${i}`, 32));
  const nextSeqno = arrayField(g, "nextSeqno", 4).map((v, i) => u64Field(v, `nextSeqno${i}`));
  return {
    product: product as Product,
    chipSeed: bytesField(o, "chipSeed", 32),
    issuedAtMs,
    guest: {
      phase: phase as LaunchPhase,
      policy: u64Field(g.policy, "policy"),
      gosvw: bytesField(g, "gosvw", 16),
      digest: bytesField(g, "digest", 48),
      vmpck,
      nextSeqno,
      reportId: bytesField(g, "reportId", 32),
      hostData: bytesField(g, "hostData", 32),
      familyId: bytesField(g, "familyId", 16),
      imageId: bytesField(g, "imageId", 16),
      guestSvn,
      idKeyDigest: bytesField(g, "idKeyDigest", 48),
      authorKeyDigest: bytesField(g, "authorKeyDigest", 48),
      authorKeyEn: g.authorKeyEn,
      launchTcb: u64Field(g.launchTcb, "launchTcb"),
    },
  };
}
