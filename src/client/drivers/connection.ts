/**
 * One protocol v1 session over a byte stream (TLS for the agent, plain TCP for the
 * baseline): size-delimited frames, request ids, many requests in flight, replies in any
 * order, pushed messages (id 0: events, mapping changes, heartbeats), and liveness.
 *
 * - Pipelining: requests are queued and sent while fewer than `window` are unanswered
 *   (the agent's MachineInfo.limits.max_in_flight once known; 1 before). Each reply is
 *   matched by id; an id that is not in flight ends the session (PROTOCOL_ERROR).
 * - Liveness: while anything is outstanding, an answer (or part of one) must arrive at
 *   least every `timeoutMs`, or the session fails with AGENT_TIMEOUT; pushed messages do
 *   not count, so a request the host withholds times out while the agent's pushed
 *   heartbeats still arrive. The agent runs only when the
 *   host schedules VMPL0, so a host that withholds service shows up here. When idle, a
 *   HeartbeatRequest is sent every `heartbeatMs`, so a stalled agent is noticed even while
 *   the owner only waits for events.
 * - Failure is final: every queued and in-flight request is rejected with the same
 *   SessionError and the stream is destroyed.
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Duplex } from "node:stream";
import { FrameDecoder, decodeMessage, encodeFrame, v1 } from "../../shared/protocol/index.js";
import { SessionError } from "./errors.js";

/** The operation of a Request, as an init object ({case: "readPhys", value: {...}}). */
export type RequestOp = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;

/** The largest frame accepted from the agent before its limits are known (the agent's own maximum configuration). */
export const MAX_INCOMING_FRAME = (16 << 20) + 4096;

export interface ConnectionOptions {
  /** For messages ("agent 127.0.0.1:7000"). */
  readonly peer: string;
  /** Fail when nothing arrives for this long while requests are outstanding (ms). */
  readonly timeoutMs: number;
  /** Idle heartbeat period (ms); 0 disables heartbeats. */
  readonly heartbeatMs: number;
  /** Pushed messages (id 0). */
  readonly onPush?: (r: v1.Response) => void;
  /** Called once when the session ends (by failure or close). */
  readonly onClose?: (reason: SessionError) => void;
  /** Monotonic milliseconds (tests may inject). */
  readonly now?: () => number;
}

interface Queued {
  readonly op: RequestOp;
  readonly resolve: (r: v1.Response) => void;
  readonly reject: (e: unknown) => void;
}

export interface ConnectionStats {
  requests: number;
  responses: number;
  pushed: number;
  bytesSent: number;
  bytesReceived: number;
  /** Most requests that were in flight at once. */
  maxInFlight: number;
}

export class V1Connection {
  readonly peer: string;
  readonly stats: ConnectionStats = { requests: 0, responses: 0, pushed: 0, bytesSent: 0, bytesReceived: 0, maxInFlight: 0 };
  readonly #stream: Duplex;
  /** The stream hands over a fresh buffer per read, so the decoder keeps them without a copy. */
  readonly #decoder = new FrameDecoder({ maxFrameBytes: MAX_INCOMING_FRAME, adoptPushed: true });
  readonly #queue: Queued[] = [];
  readonly #pending = new Map<bigint, Queued>();
  readonly #opts: ConnectionOptions;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #closed: Promise<void>;
  #nextId = 1n;
  #window = 1;
  #maxOutgoingFrame = MAX_INCOMING_FRAME;
  #failure: SessionError | undefined;
  #lastProgress: number;
  #lastHeartbeat: number;
  #heartbeatPending = false;
  #lastHeartbeatBody: v1.Heartbeat | undefined;

  constructor(stream: Duplex, opts: ConnectionOptions) {
    this.peer = opts.peer;
    this.#stream = stream;
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#lastProgress = this.#now();
    this.#lastHeartbeat = this.#lastProgress;
    this.#closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    stream.on("data", (chunk: Buffer) => this.#onData(chunk));
    stream.on("error", (e: Error) => this.#fail(new SessionError("SESSION_CLOSED", `connection to ${this.peer} failed: ${e.message}`, { peer: this.peer }, { cause: e })));
    stream.on("end", () => this.#fail(new SessionError("SESSION_CLOSED", `${this.peer} closed the session`, { peer: this.peer })));
    stream.on("close", () => this.#fail(new SessionError("SESSION_CLOSED", `${this.peer} closed the session`, { peer: this.peer })));
    const tick = Math.max(10, Math.min(opts.heartbeatMs > 0 ? opts.heartbeatMs : opts.timeoutMs, opts.timeoutMs) / 4);
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#timer.unref();
  }

  /** Requests allowed in flight at once. */
  get window(): number {
    return this.#window;
  }
  setWindow(n: number): void {
    this.#window = Math.max(1, Math.floor(n));
    this.#pump();
  }
  /** Largest frame the agent accepts (its limits.max_frame_bytes). */
  get maxOutgoingFrame(): number {
    return this.#maxOutgoingFrame;
  }
  setMaxOutgoingFrame(n: number): void {
    this.#maxOutgoingFrame = n;
  }
  get inFlight(): number {
    return this.#pending.size;
  }
  get failure(): SessionError | undefined {
    return this.#failure;
  }
  /** The last heartbeat the agent answered. */
  get lastHeartbeat(): v1.Heartbeat | undefined {
    return this.#lastHeartbeatBody;
  }

  /** Sends a request (queued behind the window); resolves with the agent's Response, whatever its status. */
  request(op: RequestOp): Promise<v1.Response> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<v1.Response>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#pump();
    });
  }

  /** Sends a heartbeat now and resolves with the agent's answer. */
  async heartbeat(): Promise<v1.Heartbeat> {
    const r = await this.request({ case: "heartbeat", value: {} });
    if (r.body.case !== "heartbeat") throw this.protocolError(`expected a heartbeat, got ${r.body.case ?? "nothing"}`);
    this.#lastHeartbeatBody = r.body.value;
    return r.body.value;
  }

  /** Ends the session; outstanding requests fail with SESSION_CLOSED. */
  async close(): Promise<void> {
    this.#fail(new SessionError("SESSION_CLOSED", `the session with ${this.peer} was closed by the client`, { peer: this.peer, byClient: true }));
    await this.#closed;
  }

  /** Ends the session because the agent broke the protocol; returns the error to throw. */
  protocolError(message: string, details: Record<string, unknown> = {}): SessionError {
    const e = new SessionError("PROTOCOL_ERROR", `${this.peer}: ${message}`, { peer: this.peer, ...details });
    this.#fail(e);
    return e;
  }

  #pump(): void {
    while (!this.#failure && this.#queue.length > 0 && this.#pending.size < this.#window) {
      const q = this.#queue.shift()!;
      const id = this.#nextId++;
      let frame: Uint8Array;
      try {
        frame = encodeFrame(toBinary(v1.RequestSchema, create(v1.RequestSchema, { id, op: q.op })));
      } catch (e) {
        q.reject(e);
        continue;
      }
      if (frame.length > this.#maxOutgoingFrame + 10) {
        q.reject(new SessionError("AGENT_STATUS", `request of ${frame.length} bytes exceeds the agent's frame limit ${this.#maxOutgoingFrame}`, { bytes: frame.length }));
        continue;
      }
      if (this.#pending.size === 0) this.#lastProgress = this.#now();
      this.#pending.set(id, q);
      this.stats.requests++;
      this.stats.bytesSent += frame.length;
      if (this.#pending.size > this.stats.maxInFlight) this.stats.maxInFlight = this.#pending.size;
      this.#stream.write(frame);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#failure) return;
    this.stats.bytesReceived += chunk.length;
    let frames: Uint8Array[];
    try {
      this.#decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      frames = this.#decoder.drain();
    } catch (e) {
      this.#fail(new SessionError("PROTOCOL_ERROR", `${this.peer} sent a bad frame: ${(e as Error).message}`, { peer: this.peer }, { cause: e }));
      return;
    }
    for (const f of frames) {
      if (this.#failure) return;
      let r: v1.Response;
      try {
        r = decodeMessage(v1.ResponseSchema, f);
      } catch (e) {
        this.#fail(new SessionError("PROTOCOL_ERROR", `${this.peer} sent a malformed Response`, { peer: this.peer }, { cause: e }));
        return;
      }
      if (r.id === 0n) {
        this.stats.pushed++;
        if (r.body.case === "heartbeat") this.#lastHeartbeatBody = r.body.value;
        try {
          this.#opts.onPush?.(r);
        } catch {
          // A faulty push handler must not break the session.
        }
        continue;
      }
      const q = this.#pending.get(r.id);
      if (!q) {
        this.#fail(new SessionError("PROTOCOL_ERROR", `${this.peer} answered request ${r.id}, which is not in flight`, { peer: this.peer, id: r.id }));
        return;
      }
      this.#pending.delete(r.id);
      this.stats.responses++;
      this.#lastProgress = this.#now();
      q.resolve(r);
    }
    // Part of a frame still on its way (a large reply) is progress too. Pushed messages
    // alone are not: the agent pushes heartbeats whatever the host does with our requests.
    if (this.#decoder.buffered > 0) this.#lastProgress = this.#now();
    this.#pump();
  }

  #tick(): void {
    if (this.#failure) return;
    const now = this.#now();
    const outstanding = this.#pending.size + this.#queue.length;
    if (outstanding > 0 && now - this.#lastProgress > this.#opts.timeoutMs) {
      const s = this.#opts.timeoutMs / 1000;
      this.#fail(
        new SessionError("AGENT_TIMEOUT", `agent did not answer within ${Number.isInteger(s) ? s : s.toFixed(1)} s; the host may be delaying the agent`, {
          peer: this.peer,
          timeoutMs: this.#opts.timeoutMs,
          outstanding,
        }),
      );
      return;
    }
    if (this.#opts.heartbeatMs > 0 && outstanding === 0 && !this.#heartbeatPending && now - Math.max(this.#lastHeartbeat, this.#lastProgress) >= this.#opts.heartbeatMs) {
      this.#lastHeartbeat = now;
      this.#heartbeatPending = true;
      this.heartbeat().then(
        () => {
          this.#heartbeatPending = false;
        },
        () => {
          this.#heartbeatPending = false;
        },
      );
    }
  }

  #fail(e: SessionError): void {
    if (this.#failure) return;
    this.#failure = e;
    clearInterval(this.#timer);
    const all = [...this.#pending.values(), ...this.#queue];
    this.#pending.clear();
    this.#queue.length = 0;
    for (const q of all) q.reject(e);
    if (e.details["byClient"] === true) {
      // Close politely (TLS close_notify), and cut the stream if the peer does not follow.
      this.#stream.end();
      setTimeout(() => this.#stream.destroy(), 500).unref();
    } else this.#stream.destroy();
    this.#opts.onClose?.(e);
  }
}
