/**
 * Traps and events of the agent (seven.proto "Traps and events"), in the library's terms.
 * A trap is a disposable handle (DRAKVUF libhook style): whoever armed it disposes it.
 * Each trap hit arrives as a TrapEvent with the vCPU's register snapshot; the vCPU is
 * held until the event is answered: continue (let the access through once, re-arm),
 * skip (RIP := next RIP) or hold (stay stopped; answer later with `answerEvent`).
 * A MappingChanged push (the guest remapped a trap's virtual page) is its own event kind.
 */
import { v1 } from "../../shared/protocol/index.js";
import { badArgument, type RegisterSet } from "../vmi/index.js";

export type EventAction = "continue" | "skip" | "hold";
export type AccessKind = "r" | "w" | "x";

export interface TrapSpec {
  /** Guest-physical address inside the page to trap. */
  readonly gpa: bigint;
  /** Accesses to trap, as letters: "r", "w", "x", "rw", "rwx", ... */
  readonly access: string;
  /** Function trap: only executions at these virtual addresses raise events. */
  readonly rips?: readonly bigint[];
  /** The virtual address (and page-table root) through which `gpa` was reached; the agent then reports remaps. */
  readonly va?: bigint;
  readonly dtb?: bigint;
  readonly pagingLevels?: 4 | 5;
}

export interface TrapEvent {
  readonly kind: "memory-access" | "execute";
  readonly eventId: bigint;
  readonly trapId: bigint;
  readonly vcpu: number;
  readonly access: AccessKind;
  readonly gpa: bigint;
  /** The faulting virtual address, when the hardware reported one. */
  readonly gva: bigint | undefined;
  readonly regs: RegisterSet;
  /** Agent time (secure TSC) in ns. */
  readonly timeNs: bigint;
}

export interface MappingChangedEvent {
  readonly kind: "mapping-changed";
  readonly trapId: bigint;
  readonly vcpu: number;
  readonly va: bigint;
  readonly oldGpa: bigint;
  /** Undefined when the page is no longer mapped. */
  readonly newGpa: bigint | undefined;
}

export type AgentEvent = TrapEvent | MappingChangedEvent;

/** Answers a trap event; undefined leaves the decision to the next handler (default: continue). */
export type TrapHandler = (e: TrapEvent) => EventAction | undefined | void | Promise<EventAction | undefined | void>;
export type AgentEventHandler = (e: AgentEvent) => EventAction | undefined | void | Promise<EventAction | undefined | void>;

export interface TrapHandle {
  readonly id: bigint;
  readonly spec: TrapSpec;
  readonly disposed: boolean;
  /** Called when the guest remaps the trap's virtual page. */
  onMappingChanged(handler: (e: MappingChangedEvent) => void): void;
  /** Disarms the trap (idempotent). */
  dispose(): Promise<void>;
}

/** "rwx"-style letters as the wire's Access bit set. */
export function accessBits(letters: string): number {
  if (!/^[rwx]{1,3}$/.test(letters) || new Set(letters).size !== letters.length) {
    throw badArgument("access", `access must be letters from r, w, x (e.g. r, w, x, rw, rwx), not ${JSON.stringify(letters)}`, { access: letters });
  }
  let bits = 0;
  if (letters.includes("r")) bits |= v1.Access.READ;
  if (letters.includes("w")) bits |= v1.Access.WRITE;
  if (letters.includes("x")) bits |= v1.Access.EXECUTE;
  return bits;
}

export function accessKind(a: v1.Access): AccessKind {
  return a === v1.Access.WRITE ? "w" : a === v1.Access.EXECUTE ? "x" : "r";
}

export function wireAction(a: EventAction): v1.EventAction {
  return a === "skip" ? v1.EventAction.SKIP : a === "hold" ? v1.EventAction.HOLD : v1.EventAction.CONTINUE;
}
