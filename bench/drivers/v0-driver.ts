/**
 * A `Driver` that speaks the prototype's protocol v0 (../shared/spec/LEGACY-PROTOCOL.md)
 * with the prototype LibVMI client's access pattern, so the same Vmi + Linux code can be
 * timed over it: TLS without ALPN or client certificate, strictly one request then its
 * reply, one 4 KiB page per PageReadReq, one register per RegisterReadReq (49 per vCPU),
 * page walks on the client. Bench-only: it checks nothing (neither does the prototype).
 * The real client's 512-page cache is left out: the Vmi's own cache applies to both
 * protocols alike, so the comparison isolates the round-trip design.
 */
import { create } from "@bufbuild/protobuf";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { decodeMessage, encodeMessageFrame, FrameDecoder, v0 } from "../../src/shared/protocol/index.js";
import {
  NO_CAPABILITIES, VmiError, invalidAddress, machineInfo, zeroRegisterSet,
  type Driver, type DriverCapabilities, type InvalidationSink, type MachineInfo, type PhysRange, type ReadResult, type RegisterName, type RegisterSet, type VcpuRegisters,
} from "../../src/client/index.js";

const PAGE = 4096n;
const OK = v0.RequestStatus.REQUEST_SUCCESS;
type Req = v0.AccessRequest["request"];
type Rep = v0.AccessReply["reply"];

/** The registers the prototype reads, and where each lands in a RegisterSet. */
const R = v0.RegisterID;
const GPRS: [v0.RegisterID, RegisterName][] = [
  [R.RAX, "rax"], [R.RBX, "rbx"], [R.RCX, "rcx"], [R.RDX, "rdx"], [R.RBP, "rbp"], [R.RSI, "rsi"], [R.RDI, "rdi"], [R.RSP, "rsp"],
  [R.RIP, "rip"], [R.RFLAGS, "rflags"], [R.R8, "r8"], [R.R9, "r9"], [R.R10, "r10"], [R.R11, "r11"], [R.R12, "r12"], [R.R13, "r13"],
  [R.R14, "r14"], [R.R15, "r15"], [R.CR0, "cr0"], [R.CR2, "cr2"], [R.CR3, "cr3"], [R.CR4, "cr4"], [R.XCR0, "xcr0"],
  [R.DR0, "dr0"], [R.DR1, "dr1"], [R.DR2, "dr2"], [R.DR3, "dr3"], [R.DR6, "dr6"], [R.DR7, "dr7"],
  [R.SYSENTER_CS, "sysenterCs"], [R.SYSENTER_ESP, "sysenterEsp"], [R.SYSENTER_EIP, "sysenterEip"], [R.MSR_EFER, "efer"],
];
type SegName = "cs" | "ds" | "es" | "fs" | "gs" | "ss" | "tr" | "ldtr";
const SEGS: [SegName, v0.RegisterID, v0.RegisterID, v0.RegisterID][] = [
  ["cs", R.CS_SEL, R.CS_LIMIT, R.CS_BASE], ["ds", R.DS_SEL, R.DS_LIMIT, R.DS_BASE], ["es", R.ES_SEL, R.ES_LIMIT, R.ES_BASE],
  ["fs", R.FS_SEL, R.FS_LIMIT, R.FS_BASE], ["gs", R.GS_SEL, R.GS_LIMIT, R.GS_BASE], ["ss", R.SS_SEL, R.SS_LIMIT, R.SS_BASE],
  ["tr", R.TR_SEL, R.TR_LIMIT, R.TR_BASE], ["ldtr", R.LDTR_SEL, R.LDTR_LIMIT, R.LDTR_BASE],
];
const TABLES: ["gdtr" | "idtr", v0.RegisterID, v0.RegisterID][] = [["gdtr", R.GDTR_LIMIT, R.GDTR_BASE], ["idtr", R.IDTR_LIMIT, R.IDTR_BASE]];
/** Register reads per vCPU (the prototype's 49). */
export const V0_REGISTER_READS = GPRS.length + SEGS.length * 3 + TABLES.length * 2;

const CAPABILITIES: DriverCapabilities = Object.freeze({ ...NO_CAPABILITIES, registers: true, pause: true, live: true });

export class V0Driver implements Driver {
  readonly name = "v0";
  readonly capabilities = CAPABILITIES;
  readonly #sock: TLSSocket;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 1 << 16 });
  readonly #waiters: ((r: Rep | Error) => void)[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #info: MachineInfo | undefined;
  #sink: InvalidationSink | undefined;
  readonly #vcpus: number;
  /** Round trips made (for the report). */
  roundTrips = 0;

  private constructor(sock: TLSSocket, vcpus: number) {
    this.#sock = sock;
    this.#vcpus = vcpus;
    sock.on("data", (d: Buffer) => {
      try {
        this.#decoder.push(d);
        for (let f = this.#decoder.next(); f !== undefined; f = this.#decoder.next()) {
          const rep = decodeMessage(v0.AccessReplySchema, f).reply;
          if (rep.case === "agentPushMsg") continue; // events: not used by the suite
          this.#waiters.shift()?.(rep);
        }
      } catch (e) {
        this.#failAll(e as Error);
      }
    });
    sock.on("error", (e) => this.#failAll(e));
    sock.on("close", () => this.#failAll(new VmiError("DRIVER_CLOSED", "v0 connection closed")));
  }

  #failAll(e: Error): void {
    for (const w of this.#waiters.splice(0)) w(e);
  }

  /** TLS (no ALPN: the agent's v0 mode), then AttestReportReq and MemBoundaryReq as the prototype does. */
  static async connect(host: string, port: number, vcpus: number): Promise<V0Driver> {
    const sock = tlsConnect({ host, port, minVersion: "TLSv1.3", rejectUnauthorized: false, checkServerIdentity: () => undefined });
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      sock.once("secureConnect", () => resolve());
      sock.once("error", reject);
    });
    const d = new V0Driver(sock, vcpus);
    await d.#call({ case: "attestReportReq", value: create(v0.AttestReportReqSchema, {}) });
    const mb = await d.#call({ case: "membdReq", value: create(v0.MemBoundaryReqSchema, {}) });
    if (mb.case !== "membdReply" || mb.value.status !== OK) throw new VmiError("DRIVER_FAILED", "v0 MemBoundaryReq failed");
    d.#info = machineInfo(vcpus, [{ gpa: 0n, len: mb.value.vmpl0BeginGpa }]);
    return d;
  }

  /** One request, then its reply; callers are serialised (the prototype never pipelines). */
  #call(request: Req): Promise<Rep> {
    const run = (): Promise<Rep> =>
      new Promise<Rep>((resolve, reject) => {
        this.#waiters.push((r) => (r instanceof Error ? reject(r) : resolve(r)));
        this.roundTrips++;
        this.#sock.write(encodeMessageFrame(v0.AccessRequestSchema, create(v0.AccessRequestSchema, { request })));
      });
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  info(): Promise<MachineInfo> {
    return Promise.resolve(this.#info!);
  }

  async #page(frame: bigint): Promise<Uint8Array | undefined> {
    const r = await this.#call({ case: "rpageReq", value: create(v0.PageReadReqSchema, { frameNum: frame }) });
    return r.case === "rpageReply" && r.value.status === OK ? r.value.page : undefined;
  }

  async readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    const out: ReadResult[] = [];
    for (const r of ranges) {
      const buf = new Uint8Array(r.len);
      let at = r.gpa;
      let o = 0;
      let err: VmiError | undefined;
      while (o < r.len) {
        const off = Number(at % PAGE);
        const n = Math.min(r.len - o, 4096 - off);
        const page = await this.#page(at / PAGE);
        if (page === undefined) {
          err = invalidAddress("physical", at);
          break;
        }
        buf.set(page.subarray(off, off + n), o);
        o += n;
        at += BigInt(n);
      }
      out.push(err ?? buf);
    }
    return out;
  }

  async #reg(vcpu: number, id: v0.RegisterID): Promise<bigint> {
    const r = await this.#call({ case: "rregReq", value: create(v0.RegisterReadReqSchema, { register: id, vcpu: BigInt(vcpu) }) });
    if (r.case !== "rregReply" || r.value.status !== OK) throw new VmiError("DRIVER_FAILED", `v0 register ${id} of vCPU ${vcpu} failed`);
    return r.value.value;
  }

  async getRegisters(vcpus?: readonly number[]): Promise<VcpuRegisters[]> {
    const out: VcpuRegisters[] = [];
    for (const v of vcpus ?? Array.from({ length: this.#vcpus }, (_, i) => i)) {
      const regs: Record<string, unknown> = { ...zeroRegisterSet() };
      const known = new Set<RegisterName>();
      for (const [id, name] of GPRS) {
        regs[name] = await this.#reg(v, id);
        known.add(name);
      }
      for (const [name, sel, limit, base] of SEGS) {
        regs[name] = { selector: await this.#reg(v, sel), limit: await this.#reg(v, limit), base: await this.#reg(v, base), attrib: 0n };
        known.add(name);
      }
      for (const [name, limit, base] of TABLES) {
        regs[name] = { limit: await this.#reg(v, limit), base: await this.#reg(v, base) };
        known.add(name);
      }
      out.push({ vcpu: v, regs: regs as unknown as RegisterSet, known });
    }
    return out;
  }

  async #status(request: Req, what: string): Promise<void> {
    const r = await this.#call(request);
    if ((r.value as { status?: v0.RequestStatus } | undefined)?.status !== OK) throw new VmiError("DRIVER_FAILED", `v0 ${what} failed`);
  }

  async pause(): Promise<void> {
    await this.#status({ case: "pauseReq", value: create(v0.PauseReqSchema, {}) }, "pause");
    this.#sink?.invalidateAll();
  }

  async resume(): Promise<void> {
    await this.#status({ case: "resumeReq", value: create(v0.ResumeReqSchema, {}) }, "resume");
    this.#sink?.invalidateAll();
  }

  setInvalidationSink(sink: InvalidationSink): void {
    this.#sink = sink;
  }

  close(): Promise<void> {
    this.#sock.destroy();
    return Promise.resolve();
  }
}
