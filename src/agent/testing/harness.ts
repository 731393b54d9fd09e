/**
 * Test harness for the service: a FakeMachine launched with this agent's image and
 * configuration, the VMPL0 backend bound to a fake Cpu, a VmiCore, and sessions on an
 * in-memory transport whose output frames are decoded for the test.
 */
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { decodeMessage, encodeMessageFrame, FrameDecoder, v0, v1 } from "../../shared/protocol/index.js";
import { buildAgentImage } from "../image.js";
import { DEFAULT_LIMITS, encodeAgentConfig } from "../config.js";
import type { AgentLimits } from "../config.js";
import { initialVmsaPage } from "../vmsa-init.js";
import { Vmpl0Backend } from "../vmpl0-backend.js";
import { VmiCore } from "../service/core.js";
import type { ReportProvider } from "../service/core.js";
import { V1Session } from "../service/session-v1.js";
import { V0Session } from "../service/session-v0.js";
import type { SessionTransport } from "../service/session.js";
import { FakeMachine } from "./fake-machine.js";

export class MemoryTransport implements SessionTransport {
  readonly frames: Uint8Array[] = [];
  /** Length of every frame ever sent (frames are consumed by `take`). */
  readonly sentLengths: number[] = [];
  closed = false;
  exporterValue: Uint8Array | undefined = new Uint8Array(32).fill(0xee);
  serverSpki: Uint8Array | undefined = Uint8Array.of(0x30, 0x00);
  send(frame: Uint8Array): void {
    if (this.closed) throw new Error("send after close");
    this.frames.push(frame);
    this.sentLengths.push(frame.length);
  }
  close(): void {
    this.closed = true;
  }
  exporter(): Uint8Array | undefined {
    return this.exporterValue;
  }
  /** Decodes and removes every frame sent so far. */
  take<T>(decode: (b: Uint8Array) => T): T[] {
    const d = new FrameDecoder({ maxFrameBytes: 64 << 20 });
    for (const f of this.frames.splice(0)) d.push(f);
    return d.drain().map(decode);
  }
}

export interface ServiceRig {
  readonly m: FakeMachine;
  readonly backend: Vmpl0Backend;
  readonly core: VmiCore;
}

export function serviceRig(p: { vcpus?: number; limits?: Partial<AgentLimits>; attestation?: ReportProvider; memoryBytes?: bigint } = {}): ServiceRig {
  const m = new FakeMachine({ vcpus: p.vcpus ?? 2, ...(p.memoryBytes !== undefined ? { memoryBytes: p.memoryBytes } : {}) });
  const limits = { ...DEFAULT_LIMITS, ...p.limits };
  const cfg = encodeAgentConfig({ ownerKey: undefined, legacyV0: true, limits, memoryBytes: m.layout.memoryBytes, vcpus: m.layout.vcpus });
  m.launch({ agentImage: buildAgentImage(), agentConfig: cfg, vmsaPage: (vmpl, v) => initialVmsaPage(vmpl, v, m.layout) });
  const backend = new Vmpl0Backend(m.layout, m.cBit);
  backend.bind(m.cpu(0));
  const core = new VmiCore(backend, { limits, agentVersion: "test", legacyV0Allowed: true, ...(p.attestation ? { attestation: p.attestation } : {}) });
  return { m, backend, core };
}

type Op = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;

/** A v1 session on a memory transport, with a request/response helper. */
export class V1Client {
  readonly io = new MemoryTransport();
  readonly session: V1Session;
  readonly pushed: v1.Response[] = [];
  #nextId = 1n;

  constructor(readonly core: VmiCore) {
    this.session = new V1Session(core, this.io, { heartbeatIntervalNs: 0n });
  }

  sendRaw(frame: Uint8Array): void {
    this.session.accept(frame);
    while (this.session.step()) {
      /* drain */
    }
  }

  /** Sends one request and returns every reply that came back (pushes collected separately). */
  call(op: Op, id: bigint = this.#nextId++): v1.Response {
    this.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op })));
    const out = this.drain();
    const r = out.find((x) => x.id === id);
    if (r === undefined) throw new Error(`no reply to request ${id} (got ${out.length} frames)`);
    return r;
  }

  drain(): v1.Response[] {
    const all = this.io.take((b) => decodeMessage(v1.ResponseSchema, b));
    for (const r of all) if (r.id === 0n) this.pushed.push(r);
    return all.filter((r) => r.id !== 0n);
  }
}

type V0Req = NonNullable<MessageInitShape<typeof v0.AccessRequestSchema>["request"]>;

export class V0Client {
  readonly io = new MemoryTransport();
  readonly session: V0Session;
  readonly pushed: v0.AccessReply[] = [];

  constructor(readonly core: VmiCore) {
    this.session = new V0Session(core, this.io);
  }

  sendRaw(frame: Uint8Array): void {
    this.session.accept(frame);
    while (this.session.step()) {
      /* drain */
    }
  }

  call(request: V0Req): v0.AccessReply {
    this.sendRaw(encodeMessageFrame(v0.AccessRequestSchema, create(v0.AccessRequestSchema, { request })));
    const out = this.drain();
    if (out.length !== 1) throw new Error(`expected one v0 reply, got ${out.length}`);
    return out[0]!;
  }

  rawFrames(): Uint8Array[] {
    return [...this.io.frames];
  }

  drain(): v0.AccessReply[] {
    const all = this.io.take((b) => decodeMessage(v0.AccessReplySchema, b));
    const replies: v0.AccessReply[] = [];
    for (const r of all) (r.reply.case === "agentPushMsg" ? this.pushed : replies).push(r);
    return replies;
  }
}
