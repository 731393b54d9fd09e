/**
 * The non-confidential baseline: the same VMI service (the same VmiCore and sessions as
 * the agent) served by the host itself over a plain stream (TCP), with a backend over
 * `HypervisorPort.plainAccess()` (plain-backend.ts). No TLS, no attestation (AttestRequest
 * answers UNIMPLEMENTED), traps unsupported — the KVMi/LibVMI-style comparison point.
 * Requests are handled as they arrive (the host is always running).
 */
import type { Duplex } from "node:stream";
import { AGENT_VERSION } from "./image.js";
import type { MachineBackend } from "./backend.js";
import { DEFAULT_LIMITS } from "./config.js";
import type { AgentLimits } from "./config.js";
import { VmiCore } from "./service/core.js";
import { DEFAULT_HEARTBEAT_NS, V1Session } from "./service/session-v1.js";
import { V0Session } from "./service/session-v0.js";
import type { Session, SessionTransport } from "./service/session.js";

export interface PlainServeOptions {
  /** Protocol spoken on the stream (default "v1"). */
  readonly protocol?: "v1" | "v0";
  readonly limits?: AgentLimits;
  /** Pushed heartbeats of v1 sessions (default 1 s; 0: none). */
  readonly heartbeatIntervalNs?: bigint;
  readonly agentVersion?: string;
}

export interface PlainServer {
  /** Ends the session and the stream. */
  close(): void;
  /** Resolves when the session has ended (either side). */
  readonly done: Promise<void>;
  readonly protocol: "v1" | "v0";
}

/** Requests handled per event-loop turn before yielding (keeps the host's loop responsive). */
const STEPS_PER_TURN = 256;

export interface PlainService {
  serve(stream: Duplex, protocol?: "v1" | "v0"): PlainServer;
}

/** One service (shared state: pause, counters) for any number of plain streams. */
export function createPlainService(backend: MachineBackend, opts: PlainServeOptions = {}): PlainService {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const core = new VmiCore(backend, { limits, agentVersion: opts.agentVersion ?? `${AGENT_VERSION} (baseline)`, legacyV0Allowed: true });
  return { serve: (stream, protocol) => serve(core, stream, protocol ?? opts.protocol ?? "v1", opts.heartbeatIntervalNs ?? DEFAULT_HEARTBEAT_NS) };
}

/** Serves one plain stream with a service of its own. */
export function servePlainStream(stream: Duplex, backend: MachineBackend, opts: PlainServeOptions = {}): PlainServer {
  return createPlainService(backend, opts).serve(stream);
}

function serve(core: VmiCore, stream: Duplex, protocol: "v1" | "v0", heartbeatNs: bigint): PlainServer {
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let ended = false;
  const io: SessionTransport = {
    send: (frame) => {
      if (!stream.destroyed && stream.writable) stream.write(frame);
    },
    close: () => finish(),
    exporter: () => undefined,
    serverSpki: undefined,
  };
  const session: Session = protocol === "v1" ? new V1Session(core, io, { heartbeatIntervalNs: heartbeatNs }) : new V0Session(core, io);
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    for (let i = 0; i < STEPS_PER_TURN; i++) if (!session.step()) break;
    if (session.hasWork && !scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  };
  const timer =
    heartbeatNs > 0n && protocol === "v1"
      ? setInterval(() => session.tick(core.backend.now()), Math.max(1, Number(heartbeatNs / 1_000_000n)))
      : undefined;
  timer?.unref();
  const finish = (): void => {
    if (ended) return;
    ended = true;
    if (timer) clearInterval(timer);
    session.end();
    if (!stream.destroyed) stream.end();
    resolveDone();
  };
  stream.on("data", (chunk: Buffer | string) => {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    session.accept(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    if (!scheduled) pump();
    if (session.closed) finish();
  });
  stream.on("end", finish);
  stream.on("close", finish);
  stream.on("error", finish);
  session.tick(core.backend.now());
  return { close: finish, done, protocol };
}
