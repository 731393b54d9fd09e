/**
 * The prototype's protocol v0 (../shared/spec/LEGACY-PROTOCOL.md), served to its unmodified
 * LibVMI `tls` client when the measured configuration allows it. What the client needs,
 * point by point:
 *  - every required field is set, zeros included (protobuf-es then encodes it; a reply with
 *    a field unset refuses to encode — `toBinary` throws — rather than go out incomplete);
 *  - prefix and message leave in one `send` (one TLS write);
 *  - no reply exceeds V0_MAX_REPLY_BYTES (8192, the client's receive buffer), checked on
 *    every frame; a reply that would is replaced by REQUEST_FAILED;
 *  - frame numbers and page addresses have the C-bit masked (GPA bit cBit = frame bit cBit−12);
 *  - an event's fault_gpa carries the C-bit exactly when the trap was registered with it;
 *  - events are pushed only for vCPU < 4 (others continue without an event);
 *  - MonitorResumeReq(vcpu) releases the vCPU held at that session's event.
 * Robustness against the client's 1-byte length bug: a request that does not parse ends
 * the session (the stream cannot be resynchronised); one that parses but lacks required
 * fields gets REQUEST_FAILED of its own reply type.
 */
import { create } from "@bufbuild/protobuf";
import { decodeMessage, encodeMessageFrame, FrameDecoder, MessageDecodeError, missingRequiredFields, v0, v0ReportData } from "../../shared/protocol/index.js";
import { PAGE_SIZE } from "../../shared/base/index.js";
import { RequestError } from "../errors.js";
import type { MappingChange, ReportOutcome, SessionPort, TrapEvent, VmiCore } from "./core.js";
import { V0_REGISTERS } from "./registers.js";
import { ACCESS } from "./traps.js";
import type { Session, SessionTransport } from "./session.js";

export const V0_MAX_REPLY_BYTES = 8192;
export const V0_MAX_REQUEST_BYTES = 8192;
/** Largest DataReadReq the agent serves (keeps the reply within 8192 bytes). */
export const V0_MAX_READ_BYTES = 8000;
/** Events are pushed only for these vCPUs (the client asserts vcpu < 4). */
export const V0_EVENT_VCPUS = 4;
/** Frames queued before the session is considered abusive (the client never pipelines). */
export const V0_MAX_QUEUED = 16;

const OK = v0.RequestStatus.REQUEST_SUCCESS;
const FAILED = v0.RequestStatus.REQUEST_FAILED;

type Reply = v0.AccessReply["reply"];
type ReqCase = NonNullable<v0.AccessRequest["request"]["case"]>;

/** The reply of each request type with every required field set (status FAILED, zeros). */
function failedReply(c: ReqCase): Reply {
  switch (c) {
    case "readReq":
      return { case: "readReply", value: create(v0.DataReadReplySchema, { status: FAILED, dataLen: 0n, data: new Uint8Array(0) }) };
    case "writeReq":
      return { case: "writeReply", value: create(v0.DataWriteReplySchema, { status: FAILED }) };
    case "pauseReq":
      return { case: "pauseReply", value: create(v0.PauseReplySchema, { status: FAILED }) };
    case "resumeReq":
      return { case: "resumeReply", value: create(v0.ResumeReplySchema, { status: FAILED }) };
    case "membdReq":
      return { case: "membdReply", value: create(v0.MemBoundaryReplySchema, { status: FAILED, vmpl0BeginGpa: 0n }) };
    case "rregReq":
      return { case: "rregReply", value: create(v0.RegisterReadReplySchema, { status: FAILED, value: 0n }) };
    case "wregReq":
      return { case: "wregReply", value: create(v0.RegisterWriteReplySchema, { status: FAILED }) };
    case "rpageReq":
      return { case: "rpageReply", value: create(v0.PageReadReplySchema, { status: FAILED, page: new Uint8Array(0) }) };
    case "wpageReq":
      return { case: "wpageReply", value: create(v0.PageWriteReplySchema, { status: FAILED }) };
    case "mntrPageReq":
      return { case: "mntrPageReply", value: create(v0.MonitorPageReplySchema, { status: FAILED }) };
    case "mntrResumeReq":
      return { case: "mntrResumeReply", value: create(v0.MonitorResumeReplySchema, { status: FAILED }) };
    case "attestReportReq":
      return { case: "attestReportReply", value: create(v0.AttestReportReplySchema, { status: FAILED, report: new Uint8Array(0) }) };
  }
}

/** A status-only success reply of `c`. */
function okReply(c: "writeReq" | "pauseReq" | "resumeReq" | "wregReq" | "wpageReq" | "mntrPageReq" | "mntrResumeReq"): Reply {
  const r = failedReply(c);
  (r.value as { status: v0.RequestStatus }).status = OK;
  return r;
}

export interface V0SessionOptions {
  readonly onClose?: (why: string) => void;
}

export class V0Session implements Session, SessionPort {
  readonly protocol = "v0" as const;
  readonly sessionId: number;
  readonly #core: VmiCore;
  readonly #io: SessionTransport;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: V0_MAX_REQUEST_BYTES });
  readonly #inbox: Uint8Array[] = [];
  readonly #onClose: ((why: string) => void) | undefined;
  #waiting = false;
  /** No more requests are served (failed or ended). */
  #closed = false;
  /** The core has released what the session held (`end`). */
  #ended = false;

  constructor(core: VmiCore, io: SessionTransport, opts: V0SessionOptions = {}) {
    this.#core = core;
    this.#io = io;
    this.sessionId = core.newSessionId();
    this.#onClose = opts.onClose;
    core.addSession(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get hasWork(): boolean {
    return !this.#closed && !this.#waiting && this.#inbox.length > 0;
  }

  accept(bytes: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(bytes);
      for (;;) {
        const f = this.#decoder.next();
        if (f === undefined) break;
        if (this.#inbox.length >= V0_MAX_QUEUED) return this.#fatal("QUEUE_FULL");
        this.#inbox.push(f);
      }
    } catch (e) {
      this.#fatal(e instanceof Error ? ((e as { code?: string }).code ?? e.name) : "unknown");
    }
  }

  step(): boolean {
    if (!this.hasWork) return false;
    const frame = this.#inbox.shift()!;
    try {
      this.#handle(frame);
    } catch (e) {
      this.#fatal(e instanceof Error ? ((e as { code?: string }).code ?? e.name) : "unknown");
    }
    return true;
  }

  tick(): bigint | undefined {
    return undefined;
  }

  /** Releases what the session holds in the core. Needs the machine. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closed = true;
    this.#inbox.length = 0;
    this.#core.endSession(this);
  }

  /** Stop serving and close the transport; the runtime ends the session while the agent runs. */
  #fatal(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.length = 0;
    try {
      this.#io.close();
      this.#onClose?.(why);
    } catch {
      // The transport is going away anyway.
    }
  }

  // ---------------------------------------------------------------- SessionPort

  acceptsEventFor(vcpu: number): boolean {
    return !this.#closed && vcpu < V0_EVENT_VCPUS;
  }

  deliverEvent(e: TrapEvent): void {
    const cbit = (e.trap.tag as { cbit?: boolean } | undefined)?.cbit === true ? 1n << BigInt(this.#core.facts.cBit) : 0n;
    const ev = create(v0.MonitorPageEventSchema, {
      accessType: e.access === ACCESS.WRITE ? v0.MemAccessType.WRITE : v0.MemAccessType.READ,
      vcpu: BigInt(e.vcpu),
      faultGpa: e.gpa | cbit,
      faultGva: e.gvaKnown ? e.gva : 0n,
    });
    this.#send({ case: "agentPushMsg", value: create(v0.AgentPushSchema, { infoMessage: { case: "mntrPageEvent", value: ev } }) });
  }

  deliverMappingChanged(_m: MappingChange): void {
    // v0 has no such message.
  }

  // ---------------------------------------------------------------- output

  #send(reply: Reply): void {
    if (this.#closed) return;
    const msg = create(v0.AccessReplySchema, { reply });
    let frame = encodeMessageFrame(v0.AccessReplySchema, msg);
    if (frame.length > V0_MAX_REPLY_BYTES) {
      const c = reply.case;
      if (c === undefined || c === "agentPushMsg") return;
      frame = encodeMessageFrame(v0.AccessReplySchema, create(v0.AccessReplySchema, { reply: failedReply(REQ_OF[c]) }));
    }
    this.#io.send(frame);
  }

  // ---------------------------------------------------------------- requests

  #handle(frame: Uint8Array): void {
    const req = decodeMessage(v0.AccessRequestSchema, frame);
    const r = req.request;
    if (r.case === undefined) throw new MessageDecodeError("BAD_MESSAGE", "v0 request without an operation");
    this.#core.counters.requests++;
    if (missingRequiredFields(v0.AccessRequestSchema, req).length > 0) return this.#send(failedReply(r.case));
    try {
      const reply = this.#dispatch(r);
      if (reply !== "async") this.#send(reply);
    } catch (e) {
      if (!(e instanceof RequestError)) throw e;
      this.#send(failedReply(r.case));
    }
  }

  /** GPA of a client address with the C-bit removed, and whether it was set. */
  #unC(addr: bigint): { gpa: bigint; cbit: boolean } {
    const m = 1n << BigInt(this.#core.facts.cBit);
    return { gpa: addr & ~m, cbit: (addr & m) !== 0n };
  }

  #dispatch(r: v0.AccessRequest["request"]): Reply | "async" {
    const core = this.#core;
    switch (r.case) {
      case "readReq": {
        const n = r.value.numBytes;
        if (n > BigInt(V0_MAX_READ_BYTES)) return failedReply(r.case);
        const c = core.memory.readPhys(this.#unC(r.value.address).gpa, Number(n));
        if (c.status !== 0) return failedReply(r.case);
        return { case: "readReply", value: create(v0.DataReadReplySchema, { status: OK, dataLen: BigInt(c.data.length), data: c.data }) };
      }
      case "writeReq": {
        if (r.value.dataLen !== BigInt(r.value.data.length)) return failedReply(r.case);
        const g = this.#unC(r.value.address).gpa;
        if (core.memory.writePhys(g, r.value.data) !== 0) return failedReply(r.case);
        core.afterWrites([g]);
        return okReply(r.case);
      }
      case "pauseReq":
        core.pause(this);
        return okReply(r.case);
      case "resumeReq":
        core.resume(this);
        return okReply(r.case);
      case "membdReq":
        return { case: "membdReply", value: create(v0.MemBoundaryReplySchema, { status: OK, vmpl0BeginGpa: core.facts.guestRamEnd }) };
      case "rregReq": {
        const f = V0_REGISTERS.get(r.value.register);
        if (f === undefined || r.value.vcpu >= BigInt(core.facts.vcpus)) return failedReply(r.case);
        return { case: "rregReply", value: create(v0.RegisterReadReplySchema, { status: OK, value: core.readRegister(Number(r.value.vcpu), f) }) };
      }
      case "wregReq": {
        const f = V0_REGISTERS.get(r.value.register);
        if (f === undefined || r.value.vcpu >= BigInt(core.facts.vcpus)) return failedReply(r.case);
        core.writeRegisters(Number(r.value.vcpu), [{ field: f, value: r.value.value }]);
        return okReply(r.case);
      }
      case "rpageReq": {
        const { gpa } = this.#unC(r.value.frameNum << 12n);
        const c = core.memory.readPhys(gpa, PAGE_SIZE);
        if (c.status !== 0) return failedReply(r.case);
        return { case: "rpageReply", value: create(v0.PageReadReplySchema, { status: OK, page: c.data }) };
      }
      case "wpageReq": {
        const { gpa } = this.#unC(r.value.paddr);
        const b = r.value.writeBuffer;
        if (Number(gpa & 0xfffn) + b.length > PAGE_SIZE) return failedReply(r.case);
        if (core.memory.writePhys(gpa, b) !== 0) return failedReply(r.case);
        core.afterWrites([gpa]);
        return okReply(r.case);
      }
      case "mntrPageReq": {
        const { gpa, cbit } = this.#unC(r.value.frameNum << 12n);
        const access = { [v0.MemAccessType.READ]: ACCESS.READ, [v0.MemAccessType.WRITE]: ACCESS.WRITE, [v0.MemAccessType.READ_WRITE]: ACCESS.READ | ACCESS.WRITE }[
          r.value.accessType as 2 | 3 | 4
        ];
        if (r.value.accessType !== v0.MemAccessType.DISABLE && access === undefined) return failedReply(r.case);
        const page = gpa & ~0xfffn;
        for (const t of core.traps.ownedBy(this.sessionId)) if (t.page === page) core.disarmTrap(this, t.id);
        if (access !== undefined) core.armTrap(this, { gpa: page, access, tag: { cbit } });
        return okReply(r.case);
      }
      case "mntrResumeReq": {
        const v = r.value.vcpu;
        const e = v < BigInt(core.facts.vcpus) ? core.eventOnVcpu(this, Number(v)) : undefined;
        if (e === undefined) return failedReply(r.case);
        core.respondEvent(this, e.eventId, "continue");
        return okReply(r.case);
      }
      case "attestReportReq":
        return this.#attest();
      default:
        throw new MessageDecodeError("BAD_MESSAGE", "v0 request without an operation");
    }
  }

  #attest(): Reply | "async" {
    const provider = this.#core.options.attestation;
    const spki = this.#io.serverSpki;
    if (provider === undefined || spki === undefined) return failedReply("attestReportReq");
    const queued = provider.request(v0ReportData(spki), (r: ReportOutcome) => {
      this.#waiting = false;
      if (!r.ok) return this.#send(failedReply("attestReportReq"));
      this.#send({ case: "attestReportReply", value: create(v0.AttestReportReplySchema, { status: OK, report: r.report }) });
    });
    if (!queued) return failedReply("attestReportReq");
    this.#waiting = true;
    return "async";
  }
}

const REQ_OF: Record<Exclude<NonNullable<Reply["case"]>, "agentPushMsg">, ReqCase> = {
  readReply: "readReq",
  writeReply: "writeReq",
  pauseReply: "pauseReq",
  resumeReply: "resumeReq",
  membdReply: "membdReq",
  rregReply: "rregReq",
  wregReply: "wregReq",
  rpageReply: "rpageReq",
  wpageReply: "wpageReq",
  mntrPageReply: "mntrPageReq",
  mntrResumeReply: "mntrResumeReq",
  attestReportReply: "attestReportReq",
};
