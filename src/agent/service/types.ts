/**
 * The service core's interfaces towards sessions (events, mapping changes) and the
 * runtime (attestation reports), and its options and counters.
 */
import type { v1 } from "../../shared/protocol/index.js";
import type { PagingLevels } from "../../shared/spec/index.js";
import type { AgentLimits } from "../config.js";
import type { Trap, TrapOwner } from "./traps.js";

/** What a session offers the core. */
export interface SessionPort extends TrapOwner {
  readonly protocol: "v1" | "v0";
  /** Whether this session may receive an event of vCPU `vcpu` (v0: only vCPU < 4). */
  acceptsEventFor(vcpu: number): boolean;
  deliverEvent(e: TrapEvent): void;
  deliverMappingChanged(m: MappingChange): void;
}

export interface TrapEvent {
  readonly eventId: bigint;
  readonly trap: Trap;
  readonly vcpu: number;
  /** ACCESS.READ / WRITE / EXECUTE. */
  readonly access: number;
  readonly gpa: bigint;
  readonly gva: bigint;
  readonly gvaKnown: boolean;
  /** The context's VMSA at the hit (a copy): where `registers` come from. */
  readonly vmsa: Uint8Array;
  /** Built when first read (the v1 session frames the event from `vmsa` directly). */
  readonly registers: v1.RegisterSet;
  readonly timeNs: bigint;
}

export interface MappingChange {
  readonly trap: Trap;
  readonly va: bigint;
  readonly oldGpa: bigint;
  readonly newGpa: bigint;
  readonly present: boolean;
  readonly vcpu: number;
}

export type ReportOutcome =
  | { readonly ok: true; readonly report: Uint8Array; readonly vcek: Uint8Array | undefined; readonly chain: readonly Uint8Array[] }
  | { readonly ok: false; readonly reason: string };

/** Gets VMPL0 attestation reports from the secure processor (the agent runtime). */
export interface ReportProvider {
  /** Queues a request; `done` is called from a later run. False when the queue is full. */
  request(reportData: Uint8Array, done: (r: ReportOutcome) => void): boolean;
}

export interface ArmSpec {
  readonly gpa: bigint;
  readonly access: number;
  readonly ripFilter?: readonly bigint[];
  readonly watch?: { readonly dtb: bigint; readonly va: bigint; readonly levels: PagingLevels };
  readonly tag?: unknown;
}

export interface CoreCounters {
  requests: bigint;
  events: bigint;
  unmatchedFaults: bigint;
  eventsDropped: bigint;
  silentSteps: bigint;
  /** Single steps ended without their instruction known to have retired (a fault they could not open, a timeout). */
  stepsAborted: bigint;
  vmpl0StarvedNs: bigint;
}

export interface CoreOptions {
  readonly limits: AgentLimits;
  readonly agentVersion: string;
  readonly legacyV0Allowed: boolean;
  readonly attestation?: ReportProvider;
}
