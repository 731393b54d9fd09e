/**
 * A protocol v1 session (proto/seven/v1/seven.proto): size-delimited Request frames in,
 * Response frames out — replies carry the request id and may come out of order (an
 * attestation waits for the secure processor while later requests are answered), pushes
 * carry id 0 (events, mapping changes, heartbeats).
 *
 * Error tiers: anything wrong with one request becomes a status in its reply; a stream
 * that cannot be parsed any more (framing error, undecodable frame) or an invariant
 * violation ends the session without saying why on the wire.
 */
import { create } from "@bufbuild/protobuf";
import {
  attestationReportData,
  decodeMessage,
  encodeMessageFrame,
  EXPORTER_LABEL,
  EXPORTER_LENGTH,
  FrameDecoder,
  NONCE_MAX_BYTES,
  NONCE_MIN_BYTES,
  v1,
} from "../../shared/protocol/index.js";
import type { PagingLevels } from "../../shared/spec/index.js";
import { RequestError, Status } from "../errors.js";
import type { ReportOutcome, SessionPort, TrapEvent, MappingChange, VmiCore } from "./core.js";
import { encodeEventFrame } from "./event-frame.js";
import { gatherList } from "./gather.js";
import { MemoryOps } from "./memory.js";
import { memoryReplyFrame } from "./read-replies.js";
import type { MemoryReply } from "./read-replies.js";
import { V1_REGISTERS } from "./registers.js";
import type { RegField } from "./registers.js";
import type { Session, SessionTransport } from "./session.js";

type Body = v1.Response["body"];
/** What a request yields: a body, a reply carrying guest memory (framed apart), or "async". */
type Outcome = Body | MemoryReply | "async";

export interface V1SessionOptions {
  /** Pushed heartbeat period in agent ns (0: none). */
  readonly heartbeatIntervalNs?: bigint;
  readonly onClose?: (why: string) => void;
}

export const DEFAULT_HEARTBEAT_NS = 1_000_000_000n;

export class V1Session implements Session, SessionPort {
  readonly protocol = "v1" as const;
  readonly sessionId: number;
  readonly #core: VmiCore;
  readonly #io: SessionTransport;
  readonly #decoder: FrameDecoder;
  readonly #inbox: Uint8Array[] = [];
  /** Request ids answered asynchronously and not yet answered. */
  readonly #pending = new Set<bigint>();
  readonly #heartbeatNs: bigint;
  readonly #onClose: ((why: string) => void) | undefined;
  #nextHeartbeat: bigint | undefined;
  /** No more requests are served (failed or ended). */
  #closed = false;
  /** The core has released what the session held (`end`). */
  #ended = false;

  constructor(core: VmiCore, io: SessionTransport, opts: V1SessionOptions = {}) {
    this.#core = core;
    this.#io = io;
    this.sessionId = core.newSessionId();
    this.#decoder = new FrameDecoder({ maxFrameBytes: core.limits.maxFrameBytes });
    this.#heartbeatNs = opts.heartbeatIntervalNs ?? DEFAULT_HEARTBEAT_NS;
    this.#onClose = opts.onClose;
    core.addSession(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get hasWork(): boolean {
    return !this.#closed && this.#inbox.length > 0;
  }

  get inFlight(): number {
    return this.#inbox.length + this.#pending.size;
  }

  /**
   * Plaintext from the transport (a TLS callback): frames are queued, nothing touches the
   * machine and nothing throws. A stream that cannot be framed or decoded fails the
   * session (closed now, ended by the runtime's next `end`).
   */
  accept(bytes: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(bytes);
      for (;;) {
        const f = this.#decoder.next();
        if (f === undefined) break;
        if (this.inFlight >= this.#core.limits.maxInFlight) this.#refuse(f);
        else this.#inbox.push(f);
      }
    } catch (e) {
      this.#fatal(e);
    }
  }

  /** A frame beyond the in-flight limit: answered at once with RESOURCE_EXHAUSTED. */
  #refuse(frame: Uint8Array): void {
    const req = decodeMessage(v1.RequestSchema, frame);
    this.#reply(req.id, Status.RESOURCE_EXHAUSTED, `more than ${this.#core.limits.maxInFlight} requests in flight`, { case: undefined });
  }

  step(): boolean {
    if (this.#closed) return false;
    const frame = this.#inbox.shift();
    if (frame === undefined) return false;
    try {
      this.#handle(decodeMessage(v1.RequestSchema, frame));
    } catch (e) {
      this.#fatal(e);
    }
    return true;
  }

  tick(nowNs: bigint): bigint | undefined {
    if (this.#closed || this.#heartbeatNs <= 0n) return undefined;
    if (this.#nextHeartbeat === undefined) this.#nextHeartbeat = nowNs + this.#heartbeatNs;
    if (nowNs >= this.#nextHeartbeat) {
      this.#push({ case: "heartbeat", value: this.#heartbeat() });
      this.#nextHeartbeat = nowNs + this.#heartbeatNs;
    }
    return this.#nextHeartbeat;
  }

  /** Releases what the session holds in the core (traps, held vCPUs, its pause). Needs the machine. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
    this.#core.endSession(this);
  }

  #stop(): void {
    this.#closed = true;
    this.#inbox.length = 0;
    this.#pending.clear();
  }

  /**
   * Invariant violation or unusable stream: stop serving, close the transport, say
   * nothing. The core is not touched here (this may run in a TLS callback); the runtime
   * ends the session (`end`) while the agent runs.
   */
  #fatal(e: unknown): void {
    if (this.#closed) return;
    const why = e instanceof Error ? ((e as { code?: unknown }).code as string | undefined) ?? e.name : "unknown";
    this.#stop();
    try {
      this.#io.close();
      this.#onClose?.(String(why));
    } catch {
      // The transport is going away anyway.
    }
  }

  // ---------------------------------------------------------------- SessionPort

  /** A session that stopped serving takes no events (its traps step silently until it ends). */
  acceptsEventFor(): boolean {
    return !this.#closed;
  }

  /** Framed straight from the VMSA at the hit (event-frame.ts), the same bytes as a pushed Response{event}. */
  deliverEvent(e: TrapEvent): void {
    if (this.#closed) return;
    this.#io.send(encodeEventFrame({ eventId: e.eventId, trapId: e.trap.id, vcpu: e.vcpu, access: e.access, gpa: e.gpa, gva: e.gva, gvaKnown: e.gvaKnown, timeNs: e.timeNs }, e.vmsa));
  }

  deliverMappingChanged(m: MappingChange): void {
    this.#push({
      case: "mappingChanged",
      value: create(v1.MappingChangedSchema, { trapId: m.trap.id, va: m.va, oldGpa: m.oldGpa, newGpa: m.newGpa, present: m.present, vcpu: m.vcpu }),
    });
  }

  // ---------------------------------------------------------------- output

  #send(id: bigint, status: Status, detail: string, body: Body): void {
    if (this.#closed) return;
    const frame = encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { id, status, detail, body }));
    if (frame.length > this.#core.limits.maxFrameBytes + 10) {
      // Cannot happen within the configured limits; refuse rather than exceed the frame limit.
      this.#io.send(encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { id, status: Status.TOO_LARGE, detail: "reply exceeds the frame limit" })));
      return;
    }
    this.#io.send(frame);
  }

  /** A reply carrying guest memory: framed once, the data read straight into the frame. */
  #sendMemory(id: bigint, r: MemoryReply): void {
    if (this.#closed) return;
    const frame = memoryReplyFrame(this.#core.memory, id, r, this.#core.limits.maxFrameBytes);
    if (frame === undefined) return this.#reply(id, Status.TOO_LARGE, "reply exceeds the frame limit", { case: undefined });
    this.#io.send(frame);
  }

  #reply(id: bigint, status: Status, detail: string, body: Body): void {
    this.#send(id, status, detail, body);
  }

  #push(body: Body): void {
    this.#send(0n, Status.OK, "", body);
  }

  // ---------------------------------------------------------------- requests

  #handle(req: v1.Request): void {
    this.#core.counters.requests++;
    const id = req.id;
    if (id === 0n) return this.#reply(0n, Status.INVALID_ARGUMENT, "request id must be non-zero", { case: undefined });
    if (this.#pending.has(id)) return this.#reply(id, Status.INVALID_ARGUMENT, "request id already in flight", { case: undefined });
    try {
      const out = this.#dispatch(id, req.op);
      if (out === "async") return;
      if ("kind" in out) return this.#sendMemory(id, out);
      this.#reply(id, Status.OK, "", out);
    } catch (e) {
      if (!(e instanceof RequestError)) throw e;
      this.#reply(id, e.status, e.message.slice(0, 200), { case: undefined });
    }
  }

  #dispatch(id: bigint, op: v1.Request["op"]): Outcome {
    const core = this.#core;
    const L = core.limits;
    switch (op.case) {
      case "attest":
        return this.#attest(id, op.value);
      case "machineInfo":
        return { case: "machineInfo", value: this.#machineInfo() };
      case "readPhys": {
        checkBatch(op.value.ranges.length, L.maxBatchEntries);
        checkRanges(op.value.ranges.map((r) => r.len), L.maxRangeBytes, L.maxBatchBytes);
        return { kind: "read", reads: op.value.ranges.map((r) => core.memory.planPhys(r.addr, r.len)) };
      }
      case "writePhys": {
        checkBatch(op.value.writes.length, L.maxBatchEntries);
        checkRanges(op.value.writes.map((w) => w.data.length), L.maxRangeBytes, L.maxBatchBytes);
        const statuses = op.value.writes.map((w) => core.memory.writePhys(w.addr, w.data));
        core.afterWrites(op.value.writes.flatMap((w, i) => (statuses[i] === Status.OK ? pagesOf(w.addr, w.data.length) : [])));
        return { case: "write", value: create(v1.WriteResponseSchema, { statuses }) };
      }
      case "readVirt": {
        const levels = pagingLevels(op.value.pagingLevels);
        checkBatch(op.value.ranges.length, L.maxBatchEntries);
        checkRanges(op.value.ranges.map((r) => r.len), L.maxRangeBytes, L.maxBatchBytes);
        const tr = core.memory.translator(op.value.dtb, levels);
        return { kind: "read", reads: op.value.ranges.map((r) => core.memory.planVirt(tr, r.addr, r.len)) };
      }
      case "gatherList": {
        const g = op.value;
        const tr = core.memory.translator(g.dtb, pagingLevels(g.pagingLevels));
        const walk = gatherList(core.memory, tr, g, L);
        return { kind: "gather", nodes: walk.nodes, reads: walk.reads, stop: walk.stop };
      }
      case "writeVirt": {
        const levels = pagingLevels(op.value.pagingLevels);
        checkBatch(op.value.writes.length, L.maxBatchEntries);
        checkRanges(op.value.writes.map((w) => w.data.length), L.maxRangeBytes, L.maxBatchBytes);
        const tr = core.memory.translator(op.value.dtb, levels);
        const written: bigint[] = [];
        const statuses = op.value.writes.map((w) => {
          const r = core.memory.writeVirt(tr, w.addr, w.data);
          written.push(...r.gpas);
          return r.status;
        });
        core.afterWrites(written);
        return { case: "write", value: create(v1.WriteResponseSchema, { statuses }) };
      }
      case "translate": {
        const levels = pagingLevels(op.value.pagingLevels);
        checkBatch(op.value.vas.length, L.maxBatchEntries);
        const tr = core.memory.translator(op.value.dtb, levels);
        const translations = op.value.vas.map((va) => {
          const w = tr(va);
          if (!w.ok) return create(v1.TranslationSchema, { status: MemoryOps.walkStatus(w), faultLevel: w.level });
          return create(v1.TranslationSchema, { status: Status.OK, gpa: w.gpa, pageSize: w.pageSize, writable: w.writable, user: w.user, nx: w.nx });
        });
        return { case: "translate", value: create(v1.TranslateResponseSchema, { translations }) };
      }
      case "getRegisters": {
        const vcpus = op.value.vcpus.length > 0 ? op.value.vcpus : Array.from({ length: core.facts.vcpus }, (_, i) => i);
        checkBatch(vcpus.length, Math.min(L.maxBatchEntries, 4 * core.facts.vcpus));
        for (const v of vcpus) core.checkVcpu(v);
        return { case: "registers", value: create(v1.RegistersResponseSchema, { sets: vcpus.map((v) => core.registers(v)) }) };
      }
      case "setRegisters": {
        core.checkVcpu(op.value.vcpu);
        checkBatch(op.value.writes.length, V1_REGISTERS.size);
        const writes: { field: RegField; value: bigint }[] = op.value.writes.map((w) => {
          const field = V1_REGISTERS.get(w.reg);
          if (field === undefined) throw new RequestError(Status.INVALID_ARGUMENT, `unknown register ${w.reg}`, { reg: w.reg });
          return { field, value: w.value };
        });
        core.writeRegisters(op.value.vcpu, writes);
        return { case: "done", value: create(v1.EmptySchema) };
      }
      case "pause": {
        const r = core.pause(this, op.value.untilResumed);
        return { case: "pause", value: create(v1.PauseResponseSchema, { stopped: r.stopped, alreadyStopped: r.alreadyStopped }) };
      }
      case "resume": {
        const r = core.resume(this);
        return { case: "resume", value: create(v1.ResumeResponseSchema, { resumed: r.resumed, stillHeld: r.stillHeld }) };
      }
      case "armTrap": {
        const a = op.value;
        const watch = a.dtb !== 0n || a.va !== 0n ? { dtb: a.dtb, va: a.va, levels: pagingLevels(a.pagingLevels) } : undefined;
        const trap = core.armTrap(this, { gpa: a.gpa, access: a.access, ripFilter: a.ripFilter, ...(watch ? { watch } : {}) });
        return { case: "armTrap", value: create(v1.ArmTrapResponseSchema, { trapId: trap.id }) };
      }
      case "disarmTrap":
        core.disarmTrap(this, op.value.trapId);
        return { case: "done", value: create(v1.EmptySchema) };
      case "eventResponse": {
        const action = ({ [v1.EventAction.CONTINUE]: "continue", [v1.EventAction.SKIP]: "skip", [v1.EventAction.HOLD]: "hold" } as const)[op.value.action as 1 | 2 | 3];
        if (action === undefined) throw new RequestError(Status.INVALID_ARGUMENT, "event action must be CONTINUE, SKIP or HOLD");
        core.respondEvent(this, op.value.eventId, action);
        return { case: "done", value: create(v1.EmptySchema) };
      }
      case "heartbeat":
        return { case: "heartbeat", value: this.#heartbeat() };
      default:
        throw new RequestError(Status.INVALID_ARGUMENT, "request has no operation");
    }
  }

  #attest(id: bigint, a: v1.AttestRequest): "async" {
    if (a.nonce.length < NONCE_MIN_BYTES || a.nonce.length > NONCE_MAX_BYTES) {
      throw new RequestError(Status.INVALID_ARGUMENT, `nonce must be ${NONCE_MIN_BYTES}..${NONCE_MAX_BYTES} bytes`);
    }
    const provider = this.#core.options.attestation;
    const exporter = this.#io.exporter(EXPORTER_LABEL, EXPORTER_LENGTH);
    if (provider === undefined || exporter === undefined) throw new RequestError(Status.UNIMPLEMENTED, "attestation needs the confidential agent over TLS");
    const reportData = attestationReportData(a.nonce, exporter);
    const queued = provider.request(reportData, (r: ReportOutcome) => {
      if (!this.#pending.delete(id)) return;
      if (!r.ok) return this.#reply(id, Status.UNAVAILABLE, "the secure processor did not give a valid report", { case: undefined });
      this.#reply(id, Status.OK, "", { case: "attest", value: create(v1.AttestResponseSchema, { report: r.report, vcek: r.vcek ?? new Uint8Array(0), chain: [...r.chain] }) });
    });
    if (!queued) throw new RequestError(Status.RESOURCE_EXHAUSTED, "too many attestations queued");
    this.#pending.add(id);
    return "async";
  }

  #machineInfo(): v1.MachineInfo {
    const core = this.#core;
    const f = core.facts;
    return create(v1.MachineInfoSchema, {
      vcpus: f.vcpus,
      memoryBytes: f.memoryBytes,
      cBit: f.cBit,
      guestRamEnd: f.guestRamEnd,
      agentRegion: { start: f.agentStart, end: f.agentEnd },
      agentVersion: core.options.agentVersion,
      limits: { ...core.limits, maxBatchBytes: BigInt(core.limits.maxBatchBytes) },
      legacyV0Allowed: core.options.legacyV0Allowed,
    });
  }

  #heartbeat(): v1.Heartbeat {
    return create(v1.HeartbeatSchema, this.#core.heartbeat());
  }
}

function checkBatch(n: number, max: number): void {
  if (n > max) throw new RequestError(Status.TOO_LARGE, `${n} entries exceed the limit of ${max}`, { entries: n, limit: max });
}

function checkRanges(lens: readonly number[], maxRange: number, maxTotal: number): void {
  let total = 0;
  for (const n of lens) {
    if (n > maxRange) throw new RequestError(Status.TOO_LARGE, `a range of ${n} bytes exceeds the limit of ${maxRange}`, { len: n, limit: maxRange });
    total += n;
  }
  if (total > maxTotal) throw new RequestError(Status.TOO_LARGE, `${total} bytes exceed the batch limit of ${maxTotal}`, { total, limit: maxTotal });
}

function pagingLevels(n: number): PagingLevels {
  if (n === 0 || n === 4) return 4;
  if (n === 5) return 5;
  throw new RequestError(Status.INVALID_ARGUMENT, `paging levels must be 4 or 5 (got ${n})`);
}

function pagesOf(addr: bigint, len: number): bigint[] {
  const out: bigint[] = [];
  if (len === 0) return out;
  for (let p = addr & ~0xfffn; p < addr + BigInt(len); p += 0x1000n) out.push(p);
  return out;
}
