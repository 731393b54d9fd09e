/**
 * A fake host for the agent's unit tests: runs the agent's VcpuProgram on a FakeMachine
 * (steps until a VMGEXIT), answers its GHCB requests (yield, page-state change, guest
 * request with a FakeAsp and a certificate table), writes run-reason hints, and moves
 * connection bytes between in-memory peers and the NIC rings.
 */
import { Duplex } from "node:stream";
import type { Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE, readU16, readU32, readU64 } from "../../shared/base/index.js";
import {
  CERT_TABLE_GUID,
  GHCB_SHARED_BUFFER_OFFSET,
  NAE_EXIT,
  NIC_AGENT_FLAGS,
  NIC_CONTROL,
  NIC_MAGIC,
  NIC_RECORD_HEADER,
  NIC_RECORD_KIND,
  NIC_VERSION,
  SECRETS_PAGE,
  SEVEN_NAE_YIELD,
  encodeGuestRequestResult,
  ghcbGet,
  ghcbSet,
  serializeCertTable,
} from "../../shared/spec/index.js";
import type { VcpuProgram } from "../../platform/index.js";
import { buildAgentImage } from "../image.js";
import { DEFAULT_LIMITS, encodeAgentConfig } from "../config.js";
import type { AgentConfig } from "../config.js";
import { initialVmsaPage } from "../vmsa-init.js";
import { FakeAsp } from "./fake-asp.js";
import { FakeMachine } from "./fake-machine.js";

export interface RunResult {
  /** "greq": a guest request left unanswered until the next run of that vCPU (`deferGuestRequests`). */
  readonly kind: "yield" | "hlt" | "budget" | "greq";
  readonly flags: bigint;
  readonly delay: bigint;
  readonly steps: number;
}

export const VMPCK = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const CERTS = { vcek: Uint8Array.of(0x30, 1), ask: Uint8Array.of(0x30, 2), ark: Uint8Array.of(0x30, 3) };

/** A launched FakeMachine with this agent's image and configuration, and a secrets page. */
export function launchedMachine(p: { vcpus?: number; config?: Partial<AgentConfig>; mutateConfig?: (b: Uint8Array) => void } = {}): FakeMachine {
  const m = new FakeMachine({ vcpus: p.vcpus ?? 2 });
  const cfg = encodeAgentConfig({ ownerKey: undefined, legacyV0: true, limits: DEFAULT_LIMITS, memoryBytes: m.layout.memoryBytes, vcpus: m.layout.vcpus, ...p.config });
  p.mutateConfig?.(cfg);
  const secrets = SECRETS_PAGE.serialize({ version: 3, vmpck0: VMPCK, vmpck1: new Uint8Array(32).fill(0x11), vmpck2: new Uint8Array(32), vmpck3: new Uint8Array(32) });
  m.launch({ agentImage: buildAgentImage(), agentConfig: cfg, vmsaPage: (vmpl, v) => initialVmsaPage(vmpl, v, m.layout) }, secrets);
  // The host initialises the NIC control page before the agent boots.
  m.poke(m.layout.nic.control, NIC_CONTROL.serialize({ magic: NIC_MAGIC, version: NIC_VERSION, rx_size: m.layout.nic.rxBytes, tx_size: m.layout.nic.txBytes }));
  return m;
}

export class FakeHost {
  readonly asp = new FakeAsp(VMPCK);
  readonly peers = new Map<number, Duplex>();
  readonly exits: string[] = [];
  pscRefused = false;
  /** Leave a guest request unanswered (the run returns "greq") until that vCPU's next run. */
  deferGuestRequests = false;
  readonly #deferred = new Map<number, () => void>();
  #rxProd = 0;
  #txCons = 0;
  #nextConn = 1;

  constructor(
    readonly m: FakeMachine,
    readonly program: VcpuProgram,
  ) {}

  /** One VMRUN of vCPU `vcpu`'s VMPL0 (re-entered after a guest request or PSC, as a host does). */
  run(vcpu: number, hint = 0n, budget = 1_000_000): RunResult {
    const deferred = this.#deferred.get(vcpu);
    this.#deferred.delete(vcpu);
    if (deferred !== undefined) deferred();
    else {
      const ghcbGpa = this.m.layout.agentGhcb[vcpu]!;
      const g = this.m.peek(ghcbGpa, PAGE_SIZE);
      ghcbSet(g, "sw_exit_info_2", hint);
      this.m.poke(ghcbGpa, g);
    }
    let steps = 0;
    for (;;) {
      const cpu = this.m.cpu(vcpu);
      let r;
      for (;;) {
        if (steps >= budget) return { kind: "budget", flags: 0n, delay: 0n, steps };
        r = this.program.step(cpu);
        steps++;
        if (r.kind !== "next") break;
      }
      if (r.kind === "hlt") return { kind: "hlt", flags: 0n, delay: 0n, steps };
      const msr = this.m.ghcbMsr.get(vcpu) ?? 0n;
      const page = this.m.peek(msr, PAGE_SIZE);
      const code = Number(ghcbGet(page, "sw_exit_code") ?? -1n);
      const info1 = ghcbGet(page, "sw_exit_info_1") ?? 0n;
      const info2 = ghcbGet(page, "sw_exit_info_2") ?? 0n;
      if (code === SEVEN_NAE_YIELD) {
        this.exits.push("yield");
        return { kind: "yield", flags: info1, delay: info2, steps };
      }
      if (code === NAE_EXIT.PSC) {
        this.exits.push("psc");
        const buf = page.subarray(GHCB_SHARED_BUFFER_OFFSET);
        const end = readU16(buf, 2);
        for (let i = readU16(buf, 0); i <= end; i++) {
          const e = readU64(buf, 8 + 8 * i);
          const pfn = Number((e >> 12n) & ((1n << 40n) - 1n));
          if (!this.pscRefused) this.m.rmp.set(pfn, { assigned: false, validated: false, vmsa: false, perms1: 0 });
        }
        ghcbSet(page, "sw_exit_info_1", this.pscRefused ? 2n : 0n);
      } else if (code === NAE_EXIT.GUEST_REQUEST || code === NAE_EXIT.EXT_GUEST_REQUEST) {
        this.exits.push(code === NAE_EXIT.GUEST_REQUEST ? "guest-request" : "ext-guest-request");
        if (this.deferGuestRequests) {
          this.#deferred.set(vcpu, () => {
            this.#answerGuestRequest(code, info1, info2, page);
            this.m.poke(msr, page);
          });
          return { kind: "greq", flags: 0n, delay: 0n, steps };
        }
        this.#answerGuestRequest(code, info1, info2, page);
      } else {
        throw new Error(`unexpected VMGEXIT 0x${code.toString(16)}`);
      }
      this.m.poke(msr, page);
    }
  }

  /** The secure processor's answer to a guest request, and the host's certificate table for an extended one. */
  #answerGuestRequest(code: number, info1: bigint, info2: bigint, page: Uint8Array): void {
    const rsp = this.asp.answer(this.m.peek(info1, PAGE_SIZE));
    if (rsp instanceof Uint8Array) this.m.poke(info2, rsp);
    if (code === NAE_EXIT.EXT_GUEST_REQUEST) {
      const table = serializeCertTable([
        { guid: CERT_TABLE_GUID.VCEK, data: CERTS.vcek },
        { guid: CERT_TABLE_GUID.ASK, data: CERTS.ask },
        { guid: CERT_TABLE_GUID.ARK, data: CERTS.ark },
      ]);
      this.m.poke(ghcbGet(page, "rax") ?? 0n, table);
    }
    ghcbSet(page, "sw_exit_info_2", encodeGuestRequestResult({ vmmError: 0, fwError: rsp instanceof Uint8Array ? 0 : rsp }));
  }

  /**
   * Runs vCPU 0 (the NIC's) until it yields without MORE_WORK and without the NIC's
   * WANT_RUN, pumping the NIC in between (bounded: node's TLS finishes writes on the event
   * loop, so callers loop with setImmediate).
   */
  settle(maxRuns = 4): RunResult {
    let r: RunResult | undefined;
    for (let i = 0; i < maxRuns; i++) {
      this.pumpRx();
      r = this.run(0, 1n);
      this.pumpTx();
      if ((r.flags & 1n) === 0n && !this.nicWantsRun() && !this.#rxPending()) return r;
    }
    return r!;
  }

  /** The agent's NIC_AGENT_FLAGS.WANT_RUN (its NIC work not done yet). */
  nicWantsRun(): boolean {
    const flags = this.m.peek(this.m.layout.nic.control + BigInt(NIC_CONTROL.offsetOf("agent_flags")), 4);
    return (readU32(flags, 0) & NIC_AGENT_FLAGS.WANT_RUN) !== 0;
  }

  // ------------------------------------------------------------------ NIC (host side)

  /** A new connection: returns the host end of an in-memory socket pair (the client side). */
  open(): Duplex {
    const id = this.#nextConn++;
    const client = new Duplex({
      read() {},
      write: (chunk: Buffer, _e, cb) => {
        this.#queue.push([id, NIC_RECORD_KIND.DATA, new Uint8Array(chunk)]);
        cb();
      },
      final: (cb) => {
        if (!this.#closed.has(id)) this.#queue.push([id, NIC_RECORD_KIND.CLOSE, new Uint8Array(0)]);
        this.#closed.add(id);
        cb();
      },
    });
    this.peers.set(id, client);
    this.#queue.push([id, NIC_RECORD_KIND.OPEN, new TextEncoder().encode("test-peer")]);
    return client;
  }

  readonly #queue: [number, number, Uint8Array][] = [];
  readonly #closed = new Set<number>();

  #rxPending(): boolean {
    return this.#queue.length > 0;
  }

  /** Moves queued client bytes into the RX ring (as much as fits). */
  pumpRx(): void {
    const nic = this.m.layout.nic;
    const cons = Number(this.m.peek64(nic.control + BigInt(NIC_CONTROL.offsetOf("rx_cons"))));
    while (this.#queue.length > 0) {
      const [conn, kind, data] = this.#queue[0]!;
      const free = nic.rxBytes - (this.#rxProd - cons);
      const n = Math.min(data.length, 65536, free - 12);
      if (n < 0 || (n < data.length && kind !== NIC_RECORD_KIND.DATA) || (n === 0 && data.length > 0)) break;
      const rec = new Uint8Array(12 + n);
      rec.set(NIC_RECORD_HEADER.serialize({ conn, kind, length: n }));
      rec.set(data.subarray(0, n), 12);
      const at = this.#rxProd % nic.rxBytes;
      const first = Math.min(rec.length, nic.rxBytes - at);
      this.m.poke(nic.rx + BigInt(at), rec.subarray(0, first));
      if (first < rec.length) this.m.poke(nic.rx, rec.subarray(first));
      this.#rxProd += rec.length;
      if (n === data.length) this.#queue.shift();
      else this.#queue[0] = [conn, kind, data.subarray(n)];
    }
    this.m.poke64(nic.control + BigInt(NIC_CONTROL.offsetOf("rx_prod")), BigInt(this.#rxProd));
  }

  /** Moves TX records to the peers. */
  pumpTx(): void {
    const nic = this.m.layout.nic;
    const prod = Number(this.m.peek64(nic.control + BigInt(NIC_CONTROL.offsetOf("tx_prod"))));
    const get = (at: number, len: number): Uint8Array => {
      const off = at % nic.txBytes;
      const first = Math.min(len, nic.txBytes - off);
      const a = this.m.peek(nic.tx + BigInt(off), first);
      return first === len ? a : Uint8Array.from([...a, ...this.m.peek(nic.tx, len - first)]);
    };
    while (prod - this.#txCons >= 12) {
      const h = NIC_RECORD_HEADER.parse(get(this.#txCons, 12));
      if (prod - this.#txCons < 12 + h.length) break;
      const full = get(this.#txCons + 12, h.length);
      this.#txCons += 12 + h.length;
      const peer = this.peers.get(h.conn);
      if (h.kind === NIC_RECORD_KIND.DATA) peer?.push(Buffer.from(full));
      else if (h.kind === NIC_RECORD_KIND.CLOSE) {
        peer?.push(null);
        if (!this.#closed.has(h.conn)) this.#queue.push([h.conn, NIC_RECORD_KIND.CLOSE, new Uint8Array(0)]);
        this.#closed.add(h.conn);
      }
    }
    this.m.poke64(nic.control + BigInt(NIC_CONTROL.offsetOf("tx_cons")), BigInt(this.#txCons));
  }
}

export type { Gpa };
