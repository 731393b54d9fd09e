/**
 * The live drivers behind the `Driver` interface: the VMPL0 agent over attested TLS
 * (protocol v1) and the non-confidential baseline (the same v1 messages over plain TCP,
 * served by the host — no TLS, no attestation; the KVMi-style comparison point).
 *
 *   connectAgent:    TCP → TLS 1.3 (ALPN seven/1, owner certificate) → attestation
 *                    (mandatory, bound to this session's exporter) → MachineInfo → ready
 *   connectBaseline: TCP → MachineInfo → ready
 *
 * Performance: requests are pipelined up to the agent's max_in_flight; scatter-gather
 * reads and writes are split by its limits (batching.ts) and the pieces sent at once;
 * page walks happen in the agent (translate, readVirt — with the frames it read, so the
 * owner caches by frame without a translation); pointer chasing too (GatherList, see
 * gather.ts); all register sets come in one message. Coherence: the owner's cache is invalidated on resume, on writes and on
 * every event (the guest ran). Liveness: connection.ts fails the session with
 * AGENT_TIMEOUT when the agent stops answering.
 */
import { v1 } from "../../shared/protocol/index.js";
import type { Clock } from "../../shared/base/index.js";
import type { CertInput, SnpProduct } from "../attest/index.js";
import {
  VmiError,
  badArgument,
  machineInfo,
  type Driver,
  type DriverCapabilities,
  type DriverEvent,
  type FramedRead,
  type GatherListResult,
  type GatherListSpec,
  type InvalidationSink,
  type MachineInfo,
  type PhysRange,
  type PhysWrite,
  type ReadResult,
  type RegisterSet,
  type RemoteTranslation,
  type Subscription,
  type VcpuRegisters,
  type VirtRange,
} from "../vmi/index.js";
import { attestSession, type AttestationExpectations, type SessionAttestation } from "./attest-session.js";
import { assemble, chunksOf, planBatches, type AgentLimits, type Piece } from "./batching.js";
import { V1Connection, type RequestOp } from "./connection.js";
import { SessionError } from "./errors.js";
import { EventHub } from "./event-hub.js";
import { gatherList } from "./gather.js";
import type { AgentEventHandler, EventAction, TrapHandle, TrapHandler, TrapSpec } from "./events.js";
import type { OwnerIdentity } from "./owner-certificate.js";
import { fromWireRegisters, registerWrites } from "./register-codec.js";
import { statusError } from "./status.js";
import { formatEndpoint, openTcp, openTls, parseEndpoint, type Endpoint } from "./transport.js";

export interface SessionOptions {
  /** Fail when the agent answers nothing for this long while requests are outstanding (default 10 s). */
  readonly timeoutMs?: number;
  /** Idle heartbeat period (default 2 s; 0 = none). */
  readonly heartbeatMs?: number;
  /** TCP + TLS connect timeout (default: timeoutMs). */
  readonly connectTimeoutMs?: number;
  /** Paging levels of the guest for agent-side walks (default 4). */
  readonly pagingLevels?: 4 | 5;
}

export interface AgentConnectOptions extends SessionOptions {
  /** "HOST:PORT" or an Endpoint. */
  readonly endpoint: string | Endpoint;
  readonly owner: OwnerIdentity;
  /** Expected launch measurement (48 bytes). */
  readonly measurement: Uint8Array;
  /** Extra trust roots (the simulator's ARK only when the owner passes it). */
  readonly trustRoots?: readonly CertInput[];
  readonly product?: SnpProduct;
  readonly policy?: AttestationExpectations["policy"];
  readonly clock?: Clock;
  /** The attestation nonce (tests); default 32 fresh random bytes. */
  readonly nonce?: Uint8Array;
}

export interface BaselineConnectOptions extends SessionOptions {
  readonly endpoint: string | Endpoint;
}

/** Timings of session setup (ms). */
export interface SessionTimings {
  readonly connectMs: number;
  readonly attestMs: number;
  readonly machineInfoMs: number;
}

const AGENT_CAPABILITIES: DriverCapabilities = Object.freeze({
  write: true,
  translate: true,
  readVirt: true,
  registers: true,
  writeRegisters: true,
  pause: true,
  events: true,
  live: true,
  // An agent that predates them answers without frames / refuses GatherList: the Vmi learns at run time.
  virtFrames: true,
  gatherList: true,
});

const BASELINE_CAPABILITIES: DriverCapabilities = Object.freeze({ ...AGENT_CAPABILITIES, events: false });

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT_MS = 2_000;

type BodyOf<C extends v1.Response["body"]["case"]> = Extract<v1.Response["body"], { case: C }>["value"];

export class AgentV1Driver implements Driver {
  readonly name: "agent" | "baseline";
  readonly capabilities: DriverCapabilities;
  readonly endpoint: string;
  /** The agent's machine description (trusted once attested). */
  readonly machine: v1.MachineInfo;
  readonly limits: AgentLimits;
  /** Present for the agent (never for the baseline). */
  readonly attestation: SessionAttestation | undefined;
  readonly timings: SessionTimings;
  /** Settles when the session ends, with the reason (closed, timeout, protocol error). */
  readonly ended: Promise<SessionError>;
  readonly #conn: V1Connection;
  readonly #levels: number;
  readonly #hub: EventHub;
  #sink: InvalidationSink | undefined;
  #closedByUser = false;
  /** The tools' pause (pause/resume): none, made by us, or joined (everything was stopped already). */
  #toolPause: "none" | "made" | "joined" = "none";

  private constructor(init: {
    name: "agent" | "baseline";
    endpoint: string;
    conn: V1Connection;
    machine: v1.MachineInfo;
    attestation: SessionAttestation | undefined;
    timings: SessionTimings;
    levels: number;
    hub: EventHub;
    ended: Promise<SessionError>;
  }) {
    this.name = init.name;
    this.capabilities = init.name === "agent" ? AGENT_CAPABILITIES : BASELINE_CAPABILITIES;
    this.endpoint = init.endpoint;
    this.#conn = init.conn;
    this.machine = init.machine;
    this.attestation = init.attestation;
    this.timings = init.timings;
    this.#levels = init.levels;
    this.#hub = init.hub;
    this.ended = init.ended;
    const l = init.machine.limits!;
    this.limits = {
      maxFrameBytes: l.maxFrameBytes,
      maxBatchEntries: l.maxBatchEntries,
      maxBatchBytes: Number(l.maxBatchBytes),
      maxRangeBytes: l.maxRangeBytes,
      maxTraps: l.maxTraps,
      maxInFlight: l.maxInFlight,
    };
  }

  /** Opens an attested session with the agent; throws SessionError (UNREACHABLE, TLS_FAILED, ATTESTATION_REJECTED, ...). */
  static async connectAgent(opts: AgentConnectOptions): Promise<AgentV1Driver> {
    const ep = typeof opts.endpoint === "string" ? parseEndpoint(opts.endpoint) : opts.endpoint;
    if (opts.measurement.length !== 48) throw badArgument("measurement", `the expected measurement must be 48 bytes (got ${opts.measurement.length})`);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const t0 = performance.now();
    const tls = await openTls(ep, opts.owner, opts.connectTimeoutMs ?? timeoutMs);
    const t1 = performance.now();
    const hub = new EventHub();
    let onEnd: (e: SessionError) => void = () => undefined;
    const ended = new Promise<SessionError>((resolve) => (onEnd = resolve));
    const conn = new V1Connection(tls.socket, {
      peer: `agent ${formatEndpoint(ep)}`,
      timeoutMs,
      heartbeatMs: opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      onPush: (r) => hub.push(r),
      onClose: (e) => onEnd(e),
    });
    try {
      let attestation: SessionAttestation;
      try {
        attestation = await attestSession(
          conn,
          tls.exporter,
          {
            measurement: opts.measurement,
            ...(opts.trustRoots !== undefined ? { trustRoots: opts.trustRoots } : {}),
            ...(opts.product !== undefined ? { product: opts.product } : {}),
            ...(opts.policy !== undefined ? { policy: opts.policy } : {}),
            ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
          },
          opts.nonce,
        );
      } catch (e) {
        if (e instanceof SessionError && e.code === "SESSION_CLOSED") {
          throw new SessionError(
            "SESSION_CLOSED",
            `the agent at ${formatEndpoint(ep)} closed the session before attesting (is the owner key the one in the agent's measured configuration?)`,
            e.details,
            { cause: e },
          );
        }
        throw e;
      }
      const t2 = performance.now();
      const machine = await fetchMachineInfo(conn);
      const t3 = performance.now();
      const d = new AgentV1Driver({
        name: "agent",
        endpoint: formatEndpoint(ep),
        conn,
        machine,
        attestation,
        timings: { connectMs: t1 - t0, attestMs: t2 - t1, machineInfoMs: t3 - t2 },
        levels: opts.pagingLevels ?? 4,
        hub,
        ended,
      });
      hub.attach(d, (eventId, action) => d.#answer(eventId, action));
      return d;
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  /** Opens a session with the non-confidential baseline (plain TCP, no attestation). */
  static async connectBaseline(opts: BaselineConnectOptions): Promise<AgentV1Driver> {
    const ep = typeof opts.endpoint === "string" ? parseEndpoint(opts.endpoint) : opts.endpoint;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const t0 = performance.now();
    const socket = await openTcp(ep, opts.connectTimeoutMs ?? timeoutMs);
    const t1 = performance.now();
    const hub = new EventHub();
    let onEnd: (e: SessionError) => void = () => undefined;
    const ended = new Promise<SessionError>((resolve) => (onEnd = resolve));
    const conn = new V1Connection(socket, {
      peer: `baseline ${formatEndpoint(ep)}`,
      timeoutMs,
      heartbeatMs: opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      onPush: (r) => hub.push(r),
      onClose: (e) => onEnd(e),
    });
    try {
      const machine = await fetchMachineInfo(conn);
      const t2 = performance.now();
      const d = new AgentV1Driver({
        name: "baseline",
        endpoint: formatEndpoint(ep),
        conn,
        machine,
        attestation: undefined,
        timings: { connectMs: t1 - t0, attestMs: 0, machineInfoMs: t2 - t1 },
        levels: opts.pagingLevels ?? 4,
        hub,
        ended,
      });
      hub.attach(d, (eventId, action) => d.#answer(eventId, action));
      return d;
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  // ---- Driver ----------------------------------------------------------------------------

  info(): Promise<MachineInfo> {
    const m = this.machine;
    return Promise.resolve(machineInfo(m.vcpus, m.guestRamEnd > 0n ? [{ gpa: 0n, len: m.guestRamEnd }] : [], m.cBit));
  }

  /** The agent's own region (never readable). */
  get agentRegion(): { start: bigint; end: bigint } {
    return { start: this.machine.agentRegion?.start ?? 0n, end: this.machine.agentRegion?.end ?? 0n };
  }

  /** Session statistics (requests, bytes, most in flight). */
  get stats(): V1Connection["stats"] {
    return this.#conn.stats;
  }

  /** The last heartbeat the agent sent or answered. */
  get lastHeartbeat(): v1.Heartbeat | undefined {
    return this.#conn.lastHeartbeat;
  }

  async readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    return this.#read(
      ranges.map((r) => ({ addr: r.gpa, len: r.len })),
      "readPhys",
      "physical",
      (rs) => ({ case: "readPhys", value: { ranges: rs } }),
    );
  }

  async readVirt(dtb: bigint, ranges: readonly VirtRange[]): Promise<ReadResult[]> {
    return this.#read(
      ranges.map((r) => ({ addr: r.va, len: r.len })),
      "readVirt",
      "virtual",
      (rs) => ({ case: "readVirt", value: { dtb, ranges: rs, pagingLevels: this.#levels } }),
      dtb,
    );
  }

  /** Virtual reads with the frame behind every page read (Chunk.frames); `frames` is undefined when the agent sent none. */
  async readVirtFrames(dtb: bigint, ranges: readonly VirtRange[]): Promise<(FramedRead | VmiError)[]> {
    const got: { piece: Piece; frames: readonly bigint[] }[] = [];
    const data = await this.#read(
      ranges.map((r) => ({ addr: r.va, len: r.len })),
      "readVirt",
      "virtual",
      (rs) => ({ case: "readVirt", value: { dtb, ranges: rs, pagingLevels: this.#levels } }),
      dtb,
      (piece, c) => got.push({ piece, frames: c.frames }),
    );
    const frames: (bigint[] | undefined)[] = ranges.map((r) => (r.len === 0 ? [] : new Array<bigint>(pagesTouched(r.va, r.len))));
    const ramFrames = this.machine.guestRamEnd >> 12n;
    for (const { piece, frames: fs } of got) {
      const want = pagesTouched(piece.addr, piece.len);
      const slot = frames[piece.index];
      if (slot === undefined) continue;
      if (fs.length === 0) {
        frames[piece.index] = undefined;
        continue;
      }
      if (fs.length !== want || fs.some((f) => f < 0n || f >= ramFrames)) {
        throw this.#wrap(this.#conn.protocolError(`readVirt: ${fs.length} frames for a range over ${want} pages, or a frame outside guest RAM`), "readVirt");
      }
      const first = Number((piece.addr >> 12n) - (ranges[piece.index]!.va >> 12n));
      fs.forEach((f, j) => (slot[first + j] = f));
    }
    return data.map((d, i) => (d instanceof VmiError ? d : { data: d, frames: frames[i] }));
  }

  /** Pointer chasing in the agent (GatherList), continued over as many requests as its limits need. */
  gatherList(spec: GatherListSpec): Promise<GatherListResult> {
    return gatherList(spec, {
      driver: this.name,
      limits: this.limits,
      levels: this.#levels,
      call: async (value) => {
        let r: v1.Response;
        try {
          r = await this.#conn.request({ case: "gatherList", value });
        } catch (e) {
          throw this.#wrap(e, "gatherList");
        }
        if (r.status === v1.Status.OK && r.body.case !== "gatherList") {
          throw this.#wrap(this.#conn.protocolError(`gatherList: expected a gatherList reply, got ${r.body.case ?? "none"}`), "gatherList");
        }
        return r;
      },
      protocolError: (m) => this.#wrap(this.#conn.protocolError(m), "gatherList") as Error,
    });
  }

  async writePhys(writes: readonly PhysWrite[]): Promise<(VmiError | undefined)[]> {
    const out = await this.#write(
      writes.map((w) => ({ addr: w.gpa, data: w.data })),
      "writePhys",
      "physical",
      (ws) => ({ case: "writePhys", value: { writes: ws } }),
    );
    const frames = new Set<bigint>();
    for (const w of writes) for (let f = w.gpa >> 12n; w.data.length > 0 && f <= (w.gpa + BigInt(w.data.length) - 1n) >> 12n; f++) frames.add(f);
    this.#sink?.invalidateFrames(frames);
    return out;
  }

  /** Virtual writes through the agent's page walk (the whole cache is dropped afterwards). */
  async writeVirt(dtb: bigint, writes: readonly { va: bigint; data: Uint8Array }[]): Promise<(VmiError | undefined)[]> {
    const out = await this.#write(
      writes.map((w) => ({ addr: w.va, data: w.data })),
      "writeVirt",
      "virtual",
      (ws) => ({ case: "writeVirt", value: { dtb, writes: ws, pagingLevels: this.#levels } }),
      dtb,
    );
    this.#sink?.invalidateAll();
    return out;
  }

  async translate(dtb: bigint, vas: readonly bigint[]): Promise<(RemoteTranslation | VmiError)[]> {
    const batches = chunksOf(vas, this.limits.maxBatchEntries);
    const replies = await Promise.all(
      batches.map((b) => this.#call({ case: "translate", value: { dtb, vas: b, pagingLevels: this.#levels } }, "translate", "translate")),
    );
    const out: (RemoteTranslation | VmiError)[] = [];
    replies.forEach((rep, k) => {
      const b = batches[k]!;
      if (rep.translations.length !== b.length) throw this.#conn.protocolError(`translate: ${rep.translations.length} results for ${b.length} addresses`);
      rep.translations.forEach((t, i) => {
        const va = b[i]!;
        if (t.status !== v1.Status.OK) {
          out.push(
            statusError(t.status, { driver: this.name, op: "translate", addr: va, faultAddr: va, layer: "virtual", dtb, detail: t.faultLevel ? `level ${t.faultLevel} not present` : "" }),
          );
        } else out.push({ va, pa: t.gpa, pageSize: t.pageSize, writable: t.writable, user: t.user, nx: t.nx });
      });
    });
    return out;
  }

  async getRegisters(vcpus?: readonly number[]): Promise<VcpuRegisters[]> {
    const r = await this.#call({ case: "getRegisters", value: { vcpus: vcpus ? [...vcpus] : [] } }, "registers", "getRegisters");
    return r.sets.map(fromWireRegisters);
  }

  /** Register sets with the agent's `stopped` and `cpl` fields. */
  async getRegisterSets(vcpus?: readonly number[]): Promise<ReturnType<typeof fromWireRegisters>[]> {
    const r = await this.#call({ case: "getRegisters", value: { vcpus: vcpus ? [...vcpus] : [] } }, "registers", "getRegisters");
    return r.sets.map(fromWireRegisters);
  }

  async setRegisters(vcpu: number, regs: Partial<RegisterSet>): Promise<void> {
    const writes = registerWrites(regs);
    if (writes.length === 0) return;
    await this.#call({ case: "setRegisters", value: { vcpu, writes } }, "done", "setRegisters");
  }

  /**
   * The tools' pause (what `Vmi.pause` uses while reading): session-scoped, so the agent
   * lifts it when this session ends.
   */
  async pause(): Promise<void> {
    const r = await this.pauseVcpus();
    this.#toolPause = this.#toolPause === "none" && r.stopped.length === 0 ? "joined" : "made";
  }

  /**
   * Whether this session holds a tool pause that joined one already in force (see
   * `resume`): it lasts until the session ends, even if that other pause is lifted.
   */
  get holdsJoinedPause(): boolean {
    return this.#toolPause === "joined";
  }

  /**
   * The tools' resume. A ResumeRequest also lifts a pause made until resumed (`seven
   * pause`), so when the matching pause found every vCPU stopped already (paused by the
   * owner, another session, or held at events) nothing is sent: a tool does not end a
   * pause it did not make, and its own session-scoped one ends with the session (or the
   * next resume that follows a pause of its own).
   */
  async resume(): Promise<void> {
    if (this.#toolPause === "joined") {
      this.#sink?.invalidateAll();
      return;
    }
    await this.resumeVcpus();
  }

  /**
   * Secure pause: the agent clears the VMSA bit of every guest context. By default the
   * pause belongs to this session and ends with it; `untilResumed` makes it last until a
   * ResumeRequest from any owner session (`seven pause` / `seven resume`).
   */
  async pauseVcpus(opts: { untilResumed?: boolean } = {}): Promise<{ stopped: number[]; alreadyStopped: number[] }> {
    const r = await this.#call({ case: "pause", value: { untilResumed: opts.untilResumed === true } }, "pause", "pause");
    this.#sink?.invalidateAll();
    return { stopped: [...r.stopped], alreadyStopped: [...r.alreadyStopped] };
  }

  /** Lifts this session's pause and any persistent pause; vCPUs held at an unanswered event stay held. */
  async resumeVcpus(): Promise<{ resumed: number[]; stillHeld: number[] }> {
    const r = await this.#call({ case: "resume", value: {} }, "resume", "resume");
    this.#toolPause = "none";
    this.#sink?.invalidateAll();
    return { resumed: [...r.resumed], stillHeld: [...r.stillHeld] };
  }

  subscribe(handler: (e: DriverEvent) => void): Subscription {
    if (!this.capabilities.events) throw new VmiError("UNSUPPORTED", `driver ${this.name} does not support events`, { driver: this.name, capability: "events" });
    return this.#hub.subscribeDriverEvents(handler);
  }

  setInvalidationSink(sink: InvalidationSink): void {
    this.#sink = sink;
    this.#hub.setSink(sink);
  }

  async close(): Promise<void> {
    if (this.#closedByUser) return;
    this.#closedByUser = true;
    await this.#hub.disposeAll();
    await this.#conn.close();
  }

  // ---- traps and events -----------------------------------------------------------------

  /** Arms a page trap (or, with `rips`, a function trap); the handler answers its events. */
  async armTrap(spec: TrapSpec, handler?: TrapHandler): Promise<TrapHandle> {
    if (!this.capabilities.events) throw new VmiError("UNSUPPORTED", `driver ${this.name} does not support traps`, { driver: this.name, capability: "events" });
    return this.#hub.arm(spec, handler, async (value) => (await this.#call({ case: "armTrap", value }, "armTrap", "armTrap")).trapId, async (trapId) => {
      await this.#call({ case: "disarmTrap", value: { trapId } }, "done", "disarmTrap");
    });
  }

  /** Every event (trap hits and mapping changes); a handler may answer trap hits. */
  onAgentEvent(handler: AgentEventHandler): Subscription {
    return this.#hub.onAgentEvent(handler);
  }

  /** Answers an event that was held. */
  answerEvent(eventId: bigint, action: Exclude<EventAction, "hold">): Promise<void> {
    return this.#answer(eventId, action);
  }

  /** Sends a heartbeat and returns the agent's counters. */
  async heartbeat(): Promise<v1.Heartbeat> {
    try {
      return await this.#conn.heartbeat();
    } catch (e) {
      throw this.#wrap(e, "heartbeat");
    }
  }

  // ---- internals -----------------------------------------------------------------------

  async #answer(eventId: bigint, action: EventAction): Promise<void> {
    await this.#call({ case: "eventResponse", value: { eventId, action: action === "skip" ? v1.EventAction.SKIP : action === "hold" ? v1.EventAction.HOLD : v1.EventAction.CONTINUE } }, undefined, "eventResponse");
    if (action !== "hold") this.#sink?.invalidateAll();
  }

  async #call<C extends v1.Response["body"]["case"]>(op: RequestOp, expect: C, opName: string): Promise<BodyOf<C>> {
    let r: v1.Response;
    try {
      r = await this.#conn.request(op);
    } catch (e) {
      throw this.#wrap(e, opName);
    }
    if (r.status !== v1.Status.OK) throw statusError(r.status, { driver: this.name, op: opName, detail: r.detail });
    if (expect !== undefined && r.body.case !== expect) {
      throw this.#wrap(this.#conn.protocolError(`${opName}: expected a ${String(expect)} reply, got ${r.body.case ?? "none"}`), opName);
    }
    return r.body.value as BodyOf<C>;
  }

  #wrap(e: unknown, op: string): unknown {
    if (e instanceof SessionError) {
      const closed = e.code === "SESSION_CLOSED";
      return new VmiError(closed ? "DRIVER_CLOSED" : "DRIVER_FAILED", e.message, { driver: this.name, op, reason: e.code, ...e.details }, { cause: e });
    }
    return e;
  }

  async #read(
    ranges: readonly { addr: bigint; len: number }[],
    op: string,
    layer: "physical" | "virtual",
    make: (rs: { addr: bigint; len: number }[]) => RequestOp,
    dtb?: bigint,
    onChunk?: (piece: Piece, c: v1.Chunk) => void,
  ): Promise<ReadResult[]> {
    const bad = ranges.findIndex((r) => !Number.isSafeInteger(r.len) || r.len < 0 || r.addr < 0n);
    if (bad >= 0) {
      return ranges.map((r, i) => (i === bad || !Number.isSafeInteger(r.len) || r.len < 0 || r.addr < 0n ? badArgument("range", `bad range 0x${r.addr.toString(16)}+${r.len}`) : new Uint8Array(0)));
    }
    const batches = planBatches(ranges, this.limits);
    const replies = await Promise.all(batches.map((b) => this.#call(make(b.map((p) => ({ addr: p.addr, len: p.len }))), "read", op)));
    const pieces: Piece[] = [];
    const results: (Uint8Array | VmiError)[] = [];
    const alone: boolean[] = [];
    replies.forEach((rep, k) => {
      const b = batches[k]!;
      if (rep.chunks.length !== b.length) throw this.#wrap(this.#conn.protocolError(`${op}: ${rep.chunks.length} chunks for ${b.length} ranges`), op);
      b.forEach((p, i) => {
        const c = rep.chunks[i]!;
        pieces.push(p);
        alone.push(b.length === 1);
        if (c.status === v1.Status.OK) onChunk?.(p, c);
        results.push(
          c.status === v1.Status.OK
            ? c.data
            : statusError(c.status, { driver: this.name, op, addr: p.addr, faultAddr: c.faultAddr, layer, ...(dtb !== undefined ? { dtb } : {}) }),
        );
      });
    });
    return assemble(
      ranges.map((r) => r.len),
      pieces,
      results,
      alone,
    );
  }

  async #write(
    writes: readonly { addr: bigint; data: Uint8Array }[],
    op: string,
    layer: "physical" | "virtual",
    make: (ws: { addr: bigint; data: Uint8Array }[]) => RequestOp,
    dtb?: bigint,
  ): Promise<(VmiError | undefined)[]> {
    const batches = planBatches(
      writes.map((w) => ({ addr: w.addr, len: w.data.length })),
      this.limits,
    );
    const replies = await Promise.all(
      batches.map((b) => this.#call(make(b.map((p) => ({ addr: p.addr, data: writes[p.index]!.data.subarray(p.offset, p.offset + p.len) }))), "write", op)),
    );
    const out: (VmiError | undefined)[] = writes.map(() => undefined);
    replies.forEach((rep, k) => {
      const b = batches[k]!;
      if (rep.statuses.length !== b.length) throw this.#wrap(this.#conn.protocolError(`${op}: ${rep.statuses.length} statuses for ${b.length} writes`), op);
      b.forEach((p, i) => {
        const s = rep.statuses[i]!;
        if (s !== v1.Status.OK && out[p.index] === undefined) {
          out[p.index] = statusError(s, { driver: this.name, op, addr: p.addr, layer, ...(dtb !== undefined ? { dtb } : {}) });
        }
      });
    });
    return out;
  }
}

/** 4 KiB pages a virtual range touches. */
function pagesTouched(va: bigint, len: number): number {
  return len === 0 ? 0 : Number(((va + BigInt(len) - 1n) >> 12n) - (va >> 12n) + 1n);
}

async function fetchMachineInfo(conn: V1Connection): Promise<v1.MachineInfo> {
  const r = await conn.request({ case: "machineInfo", value: {} });
  if (r.status !== v1.Status.OK) throw new SessionError("AGENT_STATUS", `${conn.peer} refused MachineInfo: STATUS_${v1.Status[r.status] ?? r.status}`, { status: r.status });
  if (r.body.case !== "machineInfo") throw conn.protocolError(`expected MachineInfo, got ${r.body.case ?? "nothing"}`);
  const m = r.body.value;
  const l = m.limits;
  if (!l || l.maxFrameBytes < 4096 || l.maxBatchEntries < 1 || l.maxBatchBytes < 1n || l.maxRangeBytes < 1 || l.maxInFlight < 1) {
    throw conn.protocolError("MachineInfo has no usable limits", { limits: l ? { ...l } : undefined });
  }
  conn.setMaxOutgoingFrame(l.maxFrameBytes);
  conn.setWindow(l.maxInFlight);
  return m;
}

/** Opens an attested agent session (see AgentV1Driver.connectAgent). */
export const connectAgent = (opts: AgentConnectOptions): Promise<AgentV1Driver> => AgentV1Driver.connectAgent(opts);
/** Opens a baseline session (see AgentV1Driver.connectBaseline). */
export const connectBaseline = (opts: BaselineConnectOptions): Promise<AgentV1Driver> => AgentV1Driver.connectBaseline(opts);
