/**
 * A small protocol v1 server for the driver's tests (test code only): TLS 1.3 with ALPN
 * "seven/1" and an owner-certificate check like the agent's, or plain TCP like the
 * baseline; attestation reports signed by the attestation builder's test VCEK (its ARK is
 * `evidence.ark`, trusted only when a test passes it); memory in a SparseDriver (build
 * page tables with PageTableBuilder; walks use the client's own x86-64 walker; virtual
 * reads name their frames, GatherList chases pointers — see vmi/testing/remote-ops.ts),
 * register sets, pause/resume (session-scoped, or until resumed), traps and pushed
 * events. Knobs make it misbehave: answer out of order, stall, bind reports to the wrong
 * nonce or to another session; or behave like an agent from before frames and GatherList.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { bytesEqual } from "../../../shared/base/index.js";
import { ALPN_V1, EXPORTER_LABEL, EXPORTER_LENGTH, FrameDecoder, attestationReportData, decodeMessage, encodeFrame, v1 } from "../../../shared/protocol/index.js";
import { SIGNATURE_OFFSET, SIGNED_REGION_END, derToSignatureField, serializeAttestationReport, type AttestationReport } from "../../../shared/spec/index.js";
import { buildAttestation, defaultChipId, defaultReport, defaultTcb, testKeys, type BuiltAttestation } from "../../attest/testing/index.js";
import { pagingConfig, tableReader, translateBatch } from "../../arch/index.js";
import { VmiError, zeroRegisterSet, type GatherStop, type RegisterSet } from "../../vmi/index.js";
import { LocalWalker, type LocalChunk } from "../../vmi/testing/remote-ops.js";
import { SparseDriver } from "../../vmi/testing/sparse-driver.js";
import { ownerIdentity, type OwnerIdentity } from "../owner-certificate.js";
import { registerNameOf, toWireRegisters } from "../register-codec.js";

type Limits = MessageInitShape<typeof v1.LimitsSchema>;
type ResponseInit = MessageInitShape<typeof v1.ResponseSchema>;

export const TEST_MEASUREMENT = new Uint8Array(48).fill(0xa7);

export interface TestAgentOptions {
  readonly mode: "tls" | "plain";
  /** SPKI DER of the only key admitted as client certificate (tls mode). */
  readonly ownerKey?: Uint8Array;
  readonly memory?: SparseDriver;
  /** The owner may inspect [0, guestRamEnd); default 64 MiB. */
  readonly guestRamEnd?: bigint;
  readonly vcpus?: number;
  readonly limits?: Partial<Limits>;
  readonly measurement?: Uint8Array;
  /** Report field overrides (e.g. { vmpl: 1 }). */
  readonly report?: Partial<AttestationReport>;
  /** "wrong-nonce": REPORT_DATA over another nonce; "replay": answer with the report of the previous session. */
  readonly attestAttack?: "wrong-nonce" | "replay";
  /** "reverse": hold replies briefly and send them in reverse order. */
  readonly replyOrder?: "fifo" | "reverse";
  /** Stop answering anything after this many requests. */
  readonly stallAfter?: number;
  /** The baseline: refuse attestation and traps with UNIMPLEMENTED. */
  readonly noTraps?: boolean;
  /** An agent from before Chunk.frames: virtual reads name no frames. */
  readonly noFrames?: boolean;
  /** An agent from before GatherList: it cannot decode the operation (INVALID_ARGUMENT). */
  readonly noGather?: boolean;
  /** Visit at most this many nodes per GatherList (answering MAX_NODES), like an agent with a lower cap. */
  readonly gatherCap?: number;
  /** Refuse a GatherList asking for more nodes than this with TOO_LARGE (a stricter agent than its limits say). */
  readonly gatherTooLargeAbove?: number;
}

export interface LoggedRequest {
  readonly id: bigint;
  readonly op: string;
  readonly entries: number;
  readonly bytes: number;
  readonly frameBytes: number;
}

const DEFAULT_LIMITS = {
  maxFrameBytes: 300 << 10,
  maxBatchEntries: 16,
  maxBatchBytes: 256n << 10n,
  maxRangeBytes: 64 << 10,
  maxTraps: 8,
  maxInFlight: 4,
};

let evidence: BuiltAttestation | undefined;
/** The test chain (ARK → ASK → VCEK); pass `testEvidence().ark` as trust root to trust it. */
export function testEvidence(): BuiltAttestation {
  evidence ??= buildAttestation();
  return evidence;
}

export class TestAgent {
  readonly opts: TestAgentOptions;
  readonly memory: SparseDriver;
  readonly guestRamEnd: bigint;
  readonly limits: Required<{ [K in keyof typeof DEFAULT_LIMITS]: (typeof DEFAULT_LIMITS)[K] }>;
  readonly log: LoggedRequest[] = [];
  readonly registers: RegisterSet[];
  readonly traps = new Map<bigint, v1.ArmTrapRequest>();
  readonly answers: Array<{ eventId: bigint; action: v1.EventAction }> = [];
  /** Every PauseRequest's until_resumed, in order. */
  readonly pauses: boolean[] = [];
  /** Most requests received and not yet answered, at once. */
  maxConcurrent = 0;
  sessions = 0;
  readonly #server: TlsServer | TcpServer;
  readonly #sockets = new Set<Socket>();
  #lastReport: Uint8Array | undefined;
  #nextTrap = 1n;
  #nextEvent = 1n;
  #current: Socket | undefined;
  #answered = 0;
  readonly #sessionPauses = new Set<number>();
  #persistentPause = false;

  private constructor(opts: TestAgentOptions, server: TlsServer | TcpServer) {
    this.opts = opts;
    this.memory = opts.memory ?? new SparseDriver(opts.guestRamEnd ?? 64n << 20n);
    this.guestRamEnd = opts.guestRamEnd ?? this.memory.memoryEnd;
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits as Partial<typeof DEFAULT_LIMITS>) };
    this.registers = Array.from({ length: opts.vcpus ?? 2 }, (_, i) => ({ ...zeroRegisterSet(), rip: 0xffffffff81000000n + BigInt(i), cr3: 0x1000n, cr4: 0x20n }));
    this.#server = server;
  }

  static async start(opts: TestAgentOptions): Promise<TestAgent> {
    let agent: TestAgent | undefined;
    const onSocket = (s: Socket, exporter: Uint8Array | undefined): void => agent!.#serve(s, exporter);
    let server: TlsServer | TcpServer;
    if (opts.mode === "tls") {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const id = ownerIdentity(privateKey, "test agent");
      server = createTlsServer(
        {
          key: privateKey.export({ format: "pem", type: "pkcs8" }),
          cert: id.certificatePem,
          minVersion: "TLSv1.3",
          ALPNProtocols: [ALPN_V1],
          requestCert: true,
          rejectUnauthorized: false,
        },
        (s: TLSSocket) => {
          const peer = s.getPeerX509Certificate();
          const spki = peer ? new Uint8Array(peer.publicKey.export({ format: "der", type: "spki" })) : undefined;
          if (!spki || !opts.ownerKey || !bytesEqual(spki, opts.ownerKey)) {
            s.destroy();
            return;
          }
          // The agent passes no context (RFC 8446 §7.5: the same as an empty one).
          const exportNoContext = s.exportKeyingMaterial as unknown as (this: TLSSocket, n: number, l: string) => Buffer;
          onSocket(s, new Uint8Array(exportNoContext.call(s, EXPORTER_LENGTH, EXPORTER_LABEL)));
        },
      );
    } else {
      server = createTcpServer((s) => onSocket(s, undefined));
    }
    agent = new TestAgent(opts, server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return agent;
  }

  /** Whether the vCPUs are paused (by a live session's pause, or one made until resumed). */
  get paused(): boolean {
    return this.#persistentPause || this.#sessionPauses.size > 0;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Pushes a trap event on the current session; returns its id. */
  pushEvent(e: { trapId: bigint; vcpu?: number; access?: v1.Access; gpa?: bigint; gva?: bigint; regs?: RegisterSet }): bigint {
    const eventId = this.#nextEvent++;
    const vcpu = e.vcpu ?? 0;
    this.#send(this.#current, {
      id: 0n,
      body: {
        case: "event",
        value: {
          eventId,
          trapId: e.trapId,
          vcpu,
          access: e.access ?? v1.Access.EXECUTE,
          gpa: e.gpa ?? this.traps.get(e.trapId)?.gpa ?? 0n,
          gva: e.gva ?? 0n,
          gvaKnown: e.gva !== undefined,
          registers: toWireRegisters(vcpu, e.regs ?? this.registers[vcpu] ?? zeroRegisterSet(), { stopped: true }),
          timeNs: 1000n * eventId,
        },
      },
    });
    return eventId;
  }

  pushMappingChanged(m: { trapId: bigint; va: bigint; oldGpa: bigint; newGpa?: bigint; vcpu?: number }): void {
    this.#send(this.#current, {
      id: 0n,
      body: { case: "mappingChanged", value: { trapId: m.trapId, va: m.va, oldGpa: m.oldGpa, newGpa: m.newGpa ?? 0n, present: m.newGpa !== undefined, vcpu: m.vcpu ?? 0 } },
    });
  }

  /** Kills the current session's connection (as a network failure would). */
  dropConnection(): void {
    this.#current?.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(s: Socket, exporter: Uint8Array | undefined): void {
    const sid = ++this.sessions;
    this.#sockets.add(s);
    this.#current = s;
    s.on("close", () => {
      this.#sockets.delete(s);
      // A session's own pause ends with it.
      this.#sessionPauses.delete(sid);
    });
    s.on("error", () => undefined);
    const decoder = new FrameDecoder({ maxFrameBytes: this.limits.maxFrameBytes });
    let held: ResponseInit[] = [];
    let timer: NodeJS.Timeout | undefined;
    let inFlight = 0;
    const reply = (r: ResponseInit): void => {
      inFlight--;
      if (this.opts.replyOrder !== "reverse") return this.#send(s, r);
      held.push(r);
      timer ??= setTimeout(() => {
        timer = undefined;
        const out = held.reverse();
        held = [];
        for (const x of out) this.#send(s, x);
      }, 5);
    };
    s.on("data", (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        decoder.push(new Uint8Array(chunk));
        frames = decoder.drain();
      } catch {
        s.destroy();
        return;
      }
      for (const f of frames) {
        let req: v1.Request;
        try {
          req = decodeMessage(v1.RequestSchema, f);
        } catch {
          s.destroy();
          return;
        }
        inFlight++;
        this.maxConcurrent = Math.max(this.maxConcurrent, inFlight);
        this.log.push({ id: req.id, op: req.op.case ?? "none", ...sizeOf(req), frameBytes: f.length });
        if (this.opts.stallAfter !== undefined && this.#answered >= this.opts.stallAfter) continue;
        this.#answered++;
        this.#handle(req, exporter, sid).then(
          (body) => reply({ id: req.id, ...body }),
          (e: unknown) => reply({ id: req.id, status: v1.Status.INTERNAL, detail: (e as Error).message }),
        );
      }
    });
  }

  #walk(dtb: bigint, vas: readonly bigint[], levels: number) {
    return translateBatch(
      tableReader((r) => this.memory.readPhys(r)),
      vas.map((va) => ({ dtb, va })),
      pagingConfig({ levels: levels === 5 ? 5 : 4 }),
    );
  }

  #send(s: Socket | undefined, r: ResponseInit): void {
    if (!s || s.destroyed) return;
    s.write(encodeFrame(toBinary(v1.ResponseSchema, create(v1.ResponseSchema, r))));
  }

  #chunk(c: LocalChunk): MessageInitShape<typeof v1.ChunkSchema> {
    const frames = this.opts.noFrames ? [] : c.frames;
    if (c.status === "ok") return { data: c.data, frames };
    return { status: c.status === "page-fault" ? v1.Status.PAGE_FAULT : v1.Status.OUT_OF_RANGE, data: c.data, faultAddr: c.faultAddr, frames };
  }

  async #handle(req: v1.Request, exporter: Uint8Array | undefined, sid: number): Promise<ResponseInit> {
    const L = this.limits;
    const op = req.op;
    switch (op.case) {
      case "attest": {
        if (this.opts.mode === "plain" || exporter === undefined) return { status: v1.Status.UNIMPLEMENTED };
        if (this.opts.attestAttack === "replay" && this.#lastReport) {
          return { body: { case: "attest", value: { report: this.#lastReport, vcek: testEvidence().leaf, chain: [testEvidence().intermediate, testEvidence().ark] } } };
        }
        const nonce = this.opts.attestAttack === "wrong-nonce" ? new Uint8Array(op.value.nonce.length).fill(0x33) : op.value.nonce;
        const report = signedReport({ reportData: attestationReportData(nonce, exporter), measurement: this.opts.measurement ?? TEST_MEASUREMENT, ...this.opts.report });
        this.#lastReport = report;
        const ev = testEvidence();
        return { body: { case: "attest", value: { report, vcek: ev.leaf, chain: [ev.intermediate, ev.ark] } } };
      }
      case "machineInfo":
        return {
          body: {
            case: "machineInfo",
            value: {
              vcpus: this.registers.length,
              memoryBytes: this.guestRamEnd + (16n << 20n),
              cBit: 51,
              guestRamEnd: this.guestRamEnd,
              agentRegion: { start: this.guestRamEnd, end: this.guestRamEnd + (16n << 20n) },
              agentVersion: "test-agent",
              limits: L,
            },
          },
        };
      case "readPhys": {
        const rs = op.value.ranges;
        if (rs.length > L.maxBatchEntries || sum(rs.map((r) => r.len)) > Number(L.maxBatchBytes) || rs.some((r) => r.len > L.maxRangeBytes)) return { status: v1.Status.TOO_LARGE };
        return {
          body: {
            case: "read",
            value: {
              chunks: rs.map((r) =>
                r.addr + BigInt(r.len) > this.guestRamEnd
                  ? { status: v1.Status.OUT_OF_RANGE, faultAddr: r.addr > this.guestRamEnd ? r.addr : this.guestRamEnd }
                  : { data: this.memory.peek(r.addr, r.len) },
              ),
            },
          },
        };
      }
      case "writePhys": {
        const ws = op.value.writes;
        if (ws.length > L.maxBatchEntries || sum(ws.map((w) => w.data.length)) > Number(L.maxBatchBytes)) return { status: v1.Status.TOO_LARGE };
        return {
          body: {
            case: "write",
            value: {
              statuses: ws.map((w) => {
                if (w.addr + BigInt(w.data.length) > this.guestRamEnd) return v1.Status.OUT_OF_RANGE;
                this.memory.poke(w.addr, w.data);
                return v1.Status.OK;
              }),
            },
          },
        };
      }
      case "translate": {
        const { dtb, vas, pagingLevels } = op.value;
        if (vas.length > L.maxBatchEntries) return { status: v1.Status.TOO_LARGE };
        const ts = await this.#walk(dtb, vas, pagingLevels);
        return {
          body: {
            case: "translate",
            value: {
              translations: ts.map((t) =>
                t instanceof VmiError
                  ? { status: v1.Status.PAGE_FAULT, faultLevel: LEVEL_NUMBER[String(t.details["level"])] ?? 0 }
                  : { gpa: t.pa, pageSize: t.pageSize, writable: t.writable, user: t.user, nx: t.nx },
              ),
            },
          },
        };
      }
      case "readVirt": {
        const { dtb, ranges, pagingLevels } = op.value;
        if (ranges.length > L.maxBatchEntries || sum(ranges.map((r) => r.len)) > Number(L.maxBatchBytes) || ranges.some((r) => r.len > L.maxRangeBytes)) return { status: v1.Status.TOO_LARGE };
        const w = new LocalWalker(this.memory, this.guestRamEnd, pagingLevels);
        const chunks: MessageInitShape<typeof v1.ChunkSchema>[] = [];
        for (const r of ranges) chunks.push(this.#chunk(await w.readVirt(dtb, r.addr, r.len)));
        return { body: { case: "read", value: { chunks } } };
      }
      case "gatherList": {
        if (this.opts.noGather) return { status: v1.Status.INVALID_ARGUMENT, detail: "missing operation" };
        const q = op.value;
        const tooLarge = q.maxNodes > L.maxBatchEntries || q.readLen > L.maxRangeBytes || q.maxNodes * q.readLen > Number(L.maxBatchBytes);
        if (tooLarge || q.maxNodes > (this.opts.gatherTooLargeAbove ?? Infinity)) return { status: v1.Status.TOO_LARGE };
        const w = new LocalWalker(this.memory, this.guestRamEnd, q.pagingLevels);
        const maxNodes = Math.min(q.maxNodes, this.opts.gatherCap ?? q.maxNodes);
        const g = await w.gather({ dtb: q.dtb, head: q.head, nextOffset: q.nextOffset, stop: q.stop, maxNodes, readOffset: q.readOffset, readLen: q.readLen });
        return { body: { case: "gatherList", value: { nodes: g.nodes, chunks: g.chunks.map((c) => this.#chunk(c)), stopReason: GATHER_STOP[g.stop] } } };
      }
      case "getRegisters": {
        const want = op.value.vcpus.length > 0 ? op.value.vcpus : this.registers.map((_, i) => i);
        if (want.some((v) => v >= this.registers.length)) return { status: v1.Status.NOT_FOUND };
        return { body: { case: "registers", value: { sets: want.map((v) => toWireRegisters(v, this.registers[v]!, { stopped: this.paused })) } } };
      }
      case "setRegisters": {
        const v = op.value.vcpu;
        if (v >= this.registers.length) return { status: v1.Status.NOT_FOUND };
        if (!this.paused) return { status: v1.Status.FAILED_PRECONDITION, detail: "vCPU is running" };
        const r: Record<string, unknown> = { ...this.registers[v]! };
        for (const w of op.value.writes) {
          const n = registerNameOf(w.reg);
          if (n === undefined) return { status: v1.Status.INVALID_ARGUMENT };
          if (n === "fsBase" || n === "gsBase") {
            const seg = n === "fsBase" ? "fs" : "gs";
            r[seg] = { ...(r[seg] as object), base: w.value };
          } else r[n] = w.value;
        }
        this.registers[v] = r as unknown as RegisterSet;
        return { body: { case: "done", value: {} } };
      }
      case "pause": {
        const was = this.paused;
        this.pauses.push(op.value.untilResumed);
        if (op.value.untilResumed) this.#persistentPause = true;
        else this.#sessionPauses.add(sid);
        const all = this.registers.map((_, i) => i);
        return { body: { case: "pause", value: was ? { alreadyStopped: all } : { stopped: all } } };
      }
      case "resume": {
        // Lifts this session's pause and any pause made until resumed.
        const was = this.paused;
        this.#sessionPauses.delete(sid);
        this.#persistentPause = false;
        return { body: { case: "resume", value: { resumed: was && !this.paused ? this.registers.map((_, i) => i) : [] } } };
      }
      case "armTrap": {
        if (this.opts.noTraps) return { status: v1.Status.UNIMPLEMENTED };
        if (this.traps.size >= L.maxTraps) return { status: v1.Status.RESOURCE_EXHAUSTED };
        if (op.value.gpa >= this.guestRamEnd) return { status: v1.Status.OUT_OF_RANGE };
        const id = this.#nextTrap++;
        this.traps.set(id, op.value);
        return { body: { case: "armTrap", value: { trapId: id } } };
      }
      case "disarmTrap":
        if (!this.traps.delete(op.value.trapId)) return { status: v1.Status.NOT_FOUND };
        return { body: { case: "done", value: {} } };
      case "eventResponse":
        this.answers.push({ eventId: op.value.eventId, action: op.value.action });
        return { body: { case: "done", value: {} } };
      case "heartbeat":
        return { body: { case: "heartbeat", value: { requests: BigInt(this.log.length), trapsArmed: this.traps.size, stoppedVcpus: this.paused ? this.registers.map((_, i) => i) : [] } } };
      default:
        return { status: v1.Status.INVALID_ARGUMENT };
    }
  }
}

const LEVEL_NUMBER: Record<string, number> = { PML5: 5, PML4: 4, PDPT: 3, PD: 2, PT: 1 };

const GATHER_STOP: Record<GatherStop, v1.GatherStop> = {
  reached: v1.GatherStop.REACHED,
  null: v1.GatherStop.NULL,
  cycle: v1.GatherStop.CYCLE,
  "max-nodes": v1.GatherStop.MAX_NODES,
  fault: v1.GatherStop.FAULT,
};

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function sizeOf(req: v1.Request): { entries: number; bytes: number } {
  switch (req.op.case) {
    case "readPhys":
    case "readVirt":
      return { entries: req.op.value.ranges.length, bytes: sum(req.op.value.ranges.map((r) => r.len)) };
    case "writePhys":
    case "writeVirt":
      return { entries: req.op.value.writes.length, bytes: sum(req.op.value.writes.map((w) => w.data.length)) };
    case "translate":
      return { entries: req.op.value.vas.length, bytes: 0 };
    case "gatherList":
      return { entries: req.op.value.maxNodes, bytes: req.op.value.maxNodes * req.op.value.readLen };
    default:
      return { entries: 0, bytes: 0 };
  }
}

/** An attestation report signed by the test VCEK (cheap: no certificates are made). */
export function signedReport(fields: Partial<AttestationReport>): Uint8Array {
  const product = "milan";
  const report: AttestationReport = { ...defaultReport(product, "vcek", defaultTcb(product), defaultChipId(product)), ...fields };
  const raw = serializeAttestationReport(report);
  const der = sign("sha384", raw.subarray(0, SIGNED_REGION_END), { key: testKeys().vcek.privateKey, dsaEncoding: "der" });
  raw.set(derToSignatureField(new Uint8Array(der)), SIGNATURE_OFFSET);
  return raw;
}


/**
 * A man in the middle that terminates the owner's TLS session and opens its own to the
 * agent (given the owner's key, the strongest position), relaying the plaintext both ways.
 */
export async function startTlsRelay(target: { host: string; port: number }, owner: OwnerIdentity): Promise<{ endpoint: string; close(): Promise<void> }> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const id = ownerIdentity(privateKey, "mitm");
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    { key: privateKey.export({ format: "pem", type: "pkcs8" }), cert: id.certificatePem, minVersion: "TLSv1.3", ALPNProtocols: [ALPN_V1], requestCert: true, rejectUnauthorized: false },
    (c) => {
      const up = tlsConnect({
        host: target.host,
        port: target.port,
        minVersion: "TLSv1.3",
        ALPNProtocols: [ALPN_V1],
        key: owner.privateKey.export({ format: "pem", type: "pkcs8" }),
        cert: owner.certificatePem,
        rejectUnauthorized: false,
      });
      for (const s of [c, up]) {
        sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => sockets.delete(s));
      }
      c.pipe(up);
      up.pipe(c);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
