/**
 * Where pushed messages go: trap hits are turned into TrapEvents, the owner's cache is
 * invalidated (the guest ran), the trap's own handler and then the session-wide handlers
 * are asked for an answer (default: continue), and the answer is sent unless it is hold.
 * MappingChanged pushes become "mapping-changed" events. Heartbeats are ignored here.
 *
 * An event for a trap already registered is dispatched right after the read that brought it
 * (a microtask: the trap's handler answers without waiting for a turn of the event loop).
 * One for a trap not registered yet waits for a macrotask turn (setImmediate), so that an
 * event arriving in the same read as its trap's ArmTrapResponse finds the trap registered;
 * pushes behind a waiting one wait too, so that they are dispatched in arrival order.
 */
import { v1 } from "../../shared/protocol/index.js";
import type { DriverEvent, InvalidationSink, Subscription } from "../vmi/index.js";
import { accessBits, accessKind, type AgentEvent, type AgentEventHandler, type EventAction, type MappingChangedEvent, type TrapEvent, type TrapHandle, type TrapHandler, type TrapSpec } from "./events.js";
import { fromWireRegisters } from "./register-codec.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

interface TrapEntry {
  readonly handle: TrapHandle;
  readonly handler: TrapHandler | undefined;
  readonly mapping: Array<(e: MappingChangedEvent) => void>;
}

type Answer = (eventId: bigint, action: EventAction) => Promise<void>;

export class EventHub {
  readonly #traps = new Map<bigint, TrapEntry>();
  readonly #agentHandlers = new Set<AgentEventHandler>();
  readonly #driverHandlers = new Set<(e: DriverEvent) => void>();
  #sink: InvalidationSink | undefined;
  #answer: Answer | undefined;
  /** Events dispatched and not yet answered (for tests and `seven watch`). */
  #inDispatch = 0;
  /** Pushes waiting for a macrotask turn (later ones wait behind them). */
  #waiting = 0;

  attach(_driver: unknown, answer: Answer): void {
    this.#answer = answer;
  }

  setSink(sink: InvalidationSink): void {
    this.#sink = sink;
  }

  get dispatching(): number {
    return this.#inDispatch;
  }

  /** A pushed Response (id 0) from the connection. */
  push(r: v1.Response): void {
    if (r.body.case === "event") {
      const ev = r.body.value;
      this.#schedule(ev.trapId, () => void this.#dispatchTrapEvent(ev));
    } else if (r.body.case === "mappingChanged") {
      const m = r.body.value;
      this.#schedule(m.trapId, () => this.#dispatchMapping(m));
    }
  }

  /** Now (after the current callback) if the trap is known and nothing waits; else after a turn. */
  #schedule(trapId: bigint, dispatch: () => void): void {
    if (this.#waiting === 0 && this.#traps.has(trapId)) {
      queueMicrotask(dispatch);
      return;
    }
    this.#waiting++;
    setImmediate(() => {
      this.#waiting--;
      dispatch();
    });
  }

  async arm(
    spec: TrapSpec,
    handler: TrapHandler | undefined,
    armFn: (req: MessageInitShape<typeof v1.ArmTrapRequestSchema>) => Promise<bigint>,
    disarmFn: (trapId: bigint) => Promise<void>,
  ): Promise<TrapHandle> {
    const access = accessBits(spec.access);
    const trapId = await armFn({
      gpa: spec.gpa,
      access,
      ripFilter: spec.rips ? [...spec.rips] : [],
      va: spec.va ?? 0n,
      dtb: spec.dtb ?? 0n,
      pagingLevels: spec.va !== undefined ? (spec.pagingLevels ?? 4) : 0,
    });
    const mapping: Array<(e: MappingChangedEvent) => void> = [];
    let disposed = false;
    const traps = this.#traps;
    const handle: TrapHandle = {
      id: trapId,
      spec,
      get disposed() {
        return disposed;
      },
      onMappingChanged: (h) => {
        mapping.push(h);
      },
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        traps.delete(trapId);
        await disarmFn(trapId);
      },
    };
    this.#traps.set(trapId, { handle, handler, mapping });
    return handle;
  }

  onAgentEvent(h: AgentEventHandler): Subscription {
    this.#agentHandlers.add(h);
    return { dispose: () => void this.#agentHandlers.delete(h) };
  }

  subscribeDriverEvents(h: (e: DriverEvent) => void): Subscription {
    this.#driverHandlers.add(h);
    return { dispose: () => void this.#driverHandlers.delete(h) };
  }

  /** Disarms every trap still armed (best effort; used on close). */
  async disposeAll(): Promise<void> {
    const all = [...this.#traps.values()];
    await Promise.all(all.map((t) => t.handle.dispose().catch(() => undefined)));
  }

  async #dispatchTrapEvent(w: v1.Event): Promise<void> {
    this.#inDispatch++;
    try {
      this.#sink?.invalidateAll();
      const access = accessKind(w.access);
      const regs = w.registers ? fromWireRegisters(w.registers).regs : fromWireRegisters({ vcpu: w.vcpu } as v1.RegisterSet).regs;
      const ev: TrapEvent = {
        kind: access === "x" ? "execute" : "memory-access",
        eventId: w.eventId,
        trapId: w.trapId,
        vcpu: w.vcpu,
        access,
        gpa: w.gpa,
        gva: w.gvaKnown ? w.gva : undefined,
        regs,
        timeNs: w.timeNs,
      };
      const driverEvent: DriverEvent = {
        kind: ev.kind,
        vcpu: ev.vcpu,
        regs,
        gpa: ev.gpa,
        ...(ev.gva !== undefined ? { va: ev.gva } : {}),
        access,
        raw: ev,
      };
      for (const h of this.#driverHandlers) safe(() => h(driverEvent));
      let action: EventAction | undefined;
      const entry = this.#traps.get(w.trapId);
      if (entry?.handler) action = await ask(() => entry.handler!(ev));
      for (const h of this.#agentHandlers) {
        const a = await ask(() => h(ev));
        if (action === undefined) action = a;
      }
      const final = action ?? "continue";
      if (final !== "hold") await this.#answer?.(w.eventId, final).catch(() => undefined);
    } finally {
      this.#inDispatch--;
    }
  }

  #dispatchMapping(m: v1.MappingChanged): void {
    this.#sink?.invalidateAll();
    const ev: MappingChangedEvent = {
      kind: "mapping-changed",
      trapId: m.trapId,
      vcpu: m.vcpu,
      va: m.va,
      oldGpa: m.oldGpa,
      newGpa: m.present ? m.newGpa : undefined,
    };
    const entry = this.#traps.get(m.trapId);
    for (const h of entry?.mapping ?? []) safe(() => h(ev));
    for (const h of this.#agentHandlers) safe(() => void h(ev));
    const driverEvent: DriverEvent = { kind: "mapping-changed", vcpu: m.vcpu, va: m.va, gpa: m.oldGpa, raw: ev };
    for (const h of this.#driverHandlers) safe(() => h(driverEvent));
  }
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // A handler's failure must not stop the others or the session.
  }
}

async function ask(f: () => EventAction | undefined | void | Promise<EventAction | undefined | void>): Promise<EventAction | undefined> {
  try {
    const a = await f();
    return a === "continue" || a === "skip" || a === "hold" ? a : undefined;
  } catch {
    return undefined;
  }
}

export type { AgentEvent };
