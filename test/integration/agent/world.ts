/**
 * A small simulated world for the agent's integration tests: the real platform
 * (createMachine), the real host (launchCvm in QEMU's order, scheduler, NIC relay on a
 * real TCP port), this agent at VMPL0, and a scripted guest at VMPL1 whose actions are
 * physical accesses (so traps fire on real RMP checks). Clients talk TLS over TCP.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:tls";
import type { TLSSocket } from "node:tls";
import { connect as tcpConnect } from "node:net";
import type { Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { systemClock } from "../../../src/shared/base/index.js";
import type { Gpa } from "../../../src/shared/base/index.js";
import { ALPN_V1, FrameDecoder, decodeMessage, encodeMessageFrame, v0, v1 } from "../../../src/shared/protocol/index.js";
import { createMachine } from "../../../src/platform/index.js";
import type { Cpu, Machine, StepResult, VcpuProgram } from "../../../src/platform/index.js";
import { createHost, launchCvm } from "../../../src/host/index.js";
import type { Host, AdversaryConfig } from "../../../src/host/index.js";
import { buildAgentImage, createAgent, DEFAULT_LIMITS, encodeAgentConfig, initialVmsaPage } from "../../../src/agent/index.js";
import type { Agent, AgentLimits } from "../../../src/agent/index.js";
import { createTlsIdentity } from "../../../src/agent/runtime/tls-identity.js";
import type { TlsIdentity } from "../../../src/agent/runtime/tls-identity.js";
import type { SevenLayout } from "../../../src/shared/spec/index.js";

/**
 * "exec-hlt": a HLT fetched from `gpa` (an instruction that exits with HLT by itself, with
 * no #DB after it even when single-stepped).
 */
export type GuestAction = { readonly kind: "read" | "write" | "exec-hlt"; readonly gpa: bigint; readonly data?: Uint8Array } | { readonly kind: "spin" };

/**
 * The VMPL1 "guest": an action queue. Each step performs the head action (a physical
 * access through the platform's RMP check) and advances RIP by 4; an empty queue spins.
 * A faulting action did not retire, so it is tried again when the vCPU runs next.
 */
export class ScriptedGuest implements VcpuProgram {
  readonly queues = new Map<number, GuestAction[]>();
  readonly retired = new Map<number, number>();
  readonly done: { vcpu: number; action: GuestAction }[] = [];
  readonly skipped: { vcpu: number; action: GuestAction }[] = [];
  /** RIP of the head action that faulted (it is retried at that RIP, dropped if RIP moved on). */
  readonly #faultRip = new Map<number, bigint>();

  push(vcpu: number, ...a: GuestAction[]): void {
    const q = this.queues.get(vcpu) ?? [];
    q.push(...a);
    this.queues.set(vcpu, q);
  }

  step(cpu: Cpu): StepResult {
    // Decode assists: every scripted instruction is 4 bytes long (so a skip can use nRIP).
    cpu.setInstructionLength?.(4);
    const q = this.queues.get(cpu.vcpu);
    const rip = cpu.getReg("rip");
    const fr = this.#faultRip.get(cpu.vcpu);
    if (fr !== undefined && fr !== rip && q !== undefined && q.length > 0) {
      // The agent skipped the faulting instruction (RIP := nRIP): it never happens.
      this.skipped.push({ vcpu: cpu.vcpu, action: q.shift()! });
    }
    this.#faultRip.delete(cpu.vcpu);
    const a = q?.[0];
    if (a !== undefined && a.kind !== "spin") {
      this.#faultRip.set(cpu.vcpu, rip);
      if (a.kind === "read") cpu.readPhys(a.gpa as Gpa, 8);
      else if (a.kind === "exec-hlt") cpu.fetch(a.gpa, 1);
      else cpu.writePhys(a.gpa as Gpa, a.data ?? Uint8Array.of(1));
      this.#faultRip.delete(cpu.vcpu);
      q!.shift();
      this.done.push({ vcpu: cpu.vcpu, action: a });
    }
    cpu.setReg("rip", cpu.getReg("rip") + 4n);
    this.retired.set(cpu.vcpu, (this.retired.get(cpu.vcpu) ?? 0) + 1);
    return a === undefined || a.kind === "exec-hlt" ? { kind: "hlt" } : { kind: "next" };
  }
}

export interface World {
  readonly machine: Machine;
  readonly host: Host;
  readonly agent: Agent;
  readonly guest: ScriptedGuest;
  readonly layout: SevenLayout;
  readonly owner: TlsIdentity;
  readonly port: number;
  readonly measurement: Uint8Array;
  close(): Promise<void>;
}

export async function startWorld(o: {
  vcpus?: number;
  legacyV0?: boolean;
  ownerKey?: Uint8Array | null;
  limits?: Partial<AgentLimits>;
  adversary?: AdversaryConfig;
  memoryBytes?: bigint;
} = {}): Promise<World> {
  const vcpus = o.vcpus ?? 2;
  const memoryBytes = o.memoryBytes ?? 64n << 20n;
  const seed = `agent-it-${randomBytes(4).toString("hex")}`;
  const machine = createMachine({ memoryBytes, vcpus, seed, clock: systemClock });
  const owner = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(randomBytes(16)));
  const ownerKey = o.ownerKey === null ? undefined : (o.ownerKey ?? owner.spki);
  const agentConfig = encodeAgentConfig({ ownerKey, legacyV0: o.legacyV0 ?? false, limits: { ...DEFAULT_LIMITS, ...o.limits }, memoryBytes, vcpus });
  const launched = launchCvm(machine.hypervisor, { memoryBytes, vcpus, agentImage: buildAgentImage(), agentConfig, vmsaPage: initialVmsaPage });
  const agent = createAgent({ heartbeatIntervalNs: 0n });
  const guest = new ScriptedGuest();
  machine.installProgram(0, agent.program);
  machine.installProgram(1, guest);
  const host = createHost({
    hypervisor: machine.hypervisor,
    layout: launched.layout,
    clock: systemClock,
    seed,
    agent: true,
    ...(o.adversary ? { adversary: o.adversary } : {}),
    scheduler: { haltMs: 2, pausedRetryMs: 5 },
  });
  const ep = await host.listen("127.0.0.1", 0);
  host.start();
  return {
    machine,
    host,
    agent,
    guest,
    layout: launched.layout,
    owner,
    port: ep.port,
    measurement: launched.measurement,
    close: () => host.stop(),
  };
}

type Op = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;

/** A v1 client: TLS 1.3 with ALPN seven/1 and the owner's certificate. */
export class V1TestClient {
  readonly events: v1.Response[] = [];
  readonly #waiters = new Map<bigint, (r: v1.Response | Error) => void>();
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 64 << 20 });
  #nextId = 1n;
  closed: Promise<void>;

  private constructor(readonly socket: TLSSocket) {
    this.closed = new Promise((r) =>
      socket.on("close", () => {
        for (const w of [...this.#waiters.values()]) w(new Error("connection closed"));
        r();
      }),
    );
    socket.on("data", (d: Buffer) => {
      this.#decoder.push(new Uint8Array(d));
      for (const f of this.#decoder.drain()) {
        const r = decodeMessage(v1.ResponseSchema, f);
        if (r.id === 0n) this.events.push(r);
        else this.#waiters.get(r.id)?.(r);
      }
    });
    socket.on("error", () => undefined);
  }

  /** `alpn` null: offer no ALPN (what the prototype's client does). */
  static connect(port: number, id: TlsIdentity | undefined, alpn: string[] | null = [ALPN_V1]): Promise<V1TestClient> {
    return new Promise((resolve, reject) => {
      const s = connect({
        host: "127.0.0.1",
        port,
        ...(alpn ? { ALPNProtocols: alpn } : {}),
        ...(id ? { key: id.keyPem, cert: id.certPem } : {}),
        rejectUnauthorized: false,
        minVersion: "TLSv1.3",
      });
      s.once("secureConnect", () => resolve(new V1TestClient(s)));
      s.once("error", reject);
    });
  }

  call(op: Op, timeoutMs = 20_000): Promise<v1.Response> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`request ${id} (${op.case}) timed out`)), timeoutMs);
      this.#waiters.set(id, (r) => {
        clearTimeout(t);
        this.#waiters.delete(id);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
      this.socket.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op })));
    });
  }

  async waitEvent(pred: (r: v1.Response) => boolean, timeoutMs = 20_000): Promise<v1.Response> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex(pred);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (Date.now() > end) throw new Error("no such event");
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  exporter(): Uint8Array {
    return new Uint8Array(this.socket.exportKeyingMaterial(32, "EXPORTER-00SEVen-attestation", Buffer.alloc(0)));
  }

  end(): void {
    this.socket.end();
  }
}

export async function waitFor(pred: () => boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

export { v0, v1, create };
