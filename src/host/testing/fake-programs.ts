/**
 * Small VcpuPrograms for the host's tests (the real agent and guest live in src/agent and
 * src/guest, which the host may not import). Each `step` is one "instruction".
 *
 * FakeAgent (VMPL0): each VMRUN it reads the run-reason hint from its GHCB, serves the
 * NIC (echo, sink, or stall), applies pause/resume requests (RMPADJUST of the VMPL1 VMSA
 * bit) and yields with SEVEN_NAE_YIELD (flags, timer).
 * FakeGuest (VMPL1): counts steps; a script can make a step touch memory, VMGEXIT, HLT.
 */
import type { Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE, gpa } from "../../shared/base/index.js";
import {
  AGENT_YIELD,
  MSR_GHCB,
  NAE_EXIT,
  NIC_RECORD_KIND,
  SEVEN_NAE_YIELD,
  VMSA,
  ghcbGet,
  ghcbInvalidate,
  ghcbSet,
  qemuResetVmsa,
  vmsaPage,
} from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import type { Cpu, StepResult, VcpuProgram } from "../../platform/index.js";
import { sealReportRequest } from "./guest-message.js";
import { NicRings, RECORD_HEADER_SIZE, decodeRecordHeader, encodeRecordHeader } from "../nic/ring.js";

/** A launchable VMSA page for `vmpl` (QEMU reset state, SNP active). */
export function fakeVmsaPage(vmpl: 0 | 1): Uint8Array {
  const f = qemuResetVmsa({ eip: 0xffff_fff0, sevFeatures: 0x21n, rdx: 0x00a00f11n });
  f.vmpl = vmpl;
  return vmsaPage(f);
}

/** Shared-page access through the agent's Cpu (C=0). */
function sharedMem(cpu: Cpu) {
  return {
    read: (g: Gpa, len: number) => cpu.readPhys(g, len, { shared: true }),
    write: (g: Gpa, d: Uint8Array) => cpu.writePhys(g, d, { shared: true }),
  };
}

export type NicMode = "echo" | "sink" | "stall";

export interface AgentRun {
  readonly vcpu: number;
  readonly reasons: bigint;
  readonly hostFlags: number;
}

export class FakeAgent implements VcpuProgram {
  readonly layout: SevenLayout;
  nicMode: NicMode = "echo";
  /** Bytes consumed from RX per VMRUN at most (echo/sink). */
  rxBudget = Number.MAX_SAFE_INTEGER;
  /** Timer requested at every yield (ns; 0 = none). */
  timerNs = 0n;
  /** Extra yield flags (e.g. MORE_WORK, HOLDING). */
  flags = 0n;
  /** On the next run: clear (pause) or set (resume) the VMSA bit of every VMPL1 VMSA. */
  pauseRequest: "pause" | "resume" | undefined;
  /** Pause the faulting vCPU when a #NPF forward names a real VMPL1 #NPF exit. */
  pauseOnNpf = false;
  /** vCPUs on which the agent yields HOLDING (in addition to `flags`). */
  readonly holdVcpus = new Set<number>();
  /** On the next run (any vCPU): set (true) or clear the VMSA bit of these vCPUs' VMPL1 VMSAs. */
  readonly vmsaBitRequests: [number, boolean][] = [];
  readonly runs: AgentRun[] = [];
  /** Forwards whose VMPL1 VMSA exit code was not #NPF (forged). */
  forgedForwards = 0;
  /** Bytes received per connection id (sink mode keeps them). */
  readonly received = new Map<number, number[]>();
  readonly opened: number[] = [];
  readonly closed: number[] = [];
  /** Report requests still to make (one per VMRUN turn, through GUEST_REQUEST with VMPCK0). */
  reportRequests = 0;
  /** Response pages of the report requests, with the host's sw_exit_info_2. */
  readonly responses: { page: Uint8Array; result: bigint; seqno: bigint }[] = [];
  /** VMPCK0 as the agent read it from its secrets page (for tests that open responses). */
  vmpck0: Uint8Array | undefined;
  #seqno = 1n;
  #inFlight = false;
  #txProd = 0;
  #rxCons = 0;

  constructor(layout: SevenLayout) {
    this.layout = layout;
  }

  step(cpu: Cpu): StepResult {
    const l = this.layout;
    const ghcbGpa = l.agentGhcb[cpu.vcpu]!;
    const mem = sharedMem(cpu);
    const ghcb = mem.read(ghcbGpa, PAGE_SIZE);
    const completed = this.#inFlight;
    if (this.#inFlight) {
      this.#inFlight = false;
      this.responses.push({ page: mem.read(l.msgResponse, PAGE_SIZE), result: ghcbGet(ghcb, "sw_exit_info_2") ?? -1n, seqno: this.#seqno });
      this.#seqno += 2n;
    } else if (this.reportRequests > 0) {
      this.reportRequests--;
      this.#inFlight = true;
      const key = cpu.readPhys((l.secrets + 0x20n) as Gpa, 32);
      this.vmpck0 = key;
      mem.write(l.msgRequest, sealReportRequest(key, this.#seqno, 0, new Uint8Array(64).fill(7)));
      ghcbInvalidate(ghcb);
      ghcbSet(ghcb, "sw_exit_code", BigInt(NAE_EXIT.GUEST_REQUEST));
      ghcbSet(ghcb, "sw_exit_info_1", l.msgRequest);
      ghcbSet(ghcb, "sw_exit_info_2", l.msgResponse);
      mem.write(ghcbGpa, ghcb);
      cpu.wrmsr(MSR_GHCB, ghcbGpa);
      return { kind: "vmgexit" };
    }
    const reasons = completed ? 0n : (ghcbGet(ghcb, "sw_exit_info_2") ?? 0n);
    const rings = new NicRings(mem, l.nic);
    if (!completed) this.runs.push({ vcpu: cpu.vcpu, reasons, hostFlags: rings.flags("host") });
    if ((reasons & 2n) !== 0n) this.#checkForward(cpu);
    if (this.pauseRequest !== undefined) {
      for (const v of l.vmsa1) cpu.rmpadjust(v, 0, 1, 0, this.pauseRequest === "resume");
      this.pauseRequest = undefined;
    }
    for (const [v, runnable] of this.vmsaBitRequests.splice(0)) cpu.rmpadjust(l.vmsa1[v]!, 0, 1, 0, runnable);
    if (cpu.vcpu === 0 && this.nicMode !== "stall") this.#serveNic(rings);
    ghcbInvalidate(ghcb);
    ghcbSet(ghcb, "sw_exit_code", BigInt(SEVEN_NAE_YIELD));
    const hold = this.holdVcpus.has(cpu.vcpu) ? AGENT_YIELD.HOLDING : 0n;
    ghcbSet(ghcb, "sw_exit_info_1", this.flags | hold | (rings.counter("txProd") !== rings.counter("txCons") ? AGENT_YIELD.TX_PENDING : 0n));
    ghcbSet(ghcb, "sw_exit_info_2", this.timerNs);
    mem.write(ghcbGpa, ghcb);
    cpu.wrmsr(MSR_GHCB, ghcbGpa);
    return { kind: "vmgexit" };
  }

  /** Believes a forward only if the VMPL1 VMSA's hardware-written exit code says #NPF. */
  #checkForward(cpu: Cpu): void {
    const vmsa = cpu.readPhys(this.layout.vmsa1[cpu.vcpu]!, VMSA.size);
    const code = VMSA.parse(vmsa, 0, { strict: false }).guest_exit_code;
    if (code !== 0x400n) {
      this.forgedForwards++;
      return;
    }
    if (this.pauseOnNpf) cpu.rmpadjust(this.layout.vmsa1[cpu.vcpu]!, 0, 1, 0, false);
  }

  #serveNic(rings: NicRings): void {
    let prod = rings.counter("rxProd");
    let budget = this.rxBudget;
    let txProd = this.#txProd;
    const txSize = rings.size("tx");
    while (prod - this.#rxCons >= RECORD_HEADER_SIZE && budget > 0) {
      const h = decodeRecordHeader(rings.get("rx", this.#rxCons, RECORD_HEADER_SIZE));
      if (prod - this.#rxCons < RECORD_HEADER_SIZE + h.length) break;
      const payload = rings.get("rx", this.#rxCons + RECORD_HEADER_SIZE, h.length);
      const reply = h.kind === NIC_RECORD_KIND.DATA && this.nicMode === "echo" ? payload : undefined;
      const need = reply !== undefined ? RECORD_HEADER_SIZE + reply.length : h.kind === NIC_RECORD_KIND.CLOSE ? RECORD_HEADER_SIZE : 0;
      if (txSize - (txProd - rings.counter("txCons")) < need) break; // TX full: leave the record in RX
      this.#rxCons += RECORD_HEADER_SIZE + h.length;
      budget -= h.length;
      if (h.kind === NIC_RECORD_KIND.OPEN) this.opened.push(h.conn);
      if (h.kind === NIC_RECORD_KIND.DATA && this.nicMode === "sink") {
        const r = this.received.get(h.conn) ?? [];
        for (const b of payload) r.push(b);
        this.received.set(h.conn, r);
      }
      if (reply !== undefined) {
        rings.put("tx", txProd, encodeRecordHeader({ conn: h.conn, kind: NIC_RECORD_KIND.DATA, length: reply.length }));
        rings.put("tx", txProd + RECORD_HEADER_SIZE, reply);
        txProd += need;
      }
      if (h.kind === NIC_RECORD_KIND.CLOSE) {
        this.closed.push(h.conn);
        rings.put("tx", txProd, encodeRecordHeader({ conn: h.conn, kind: NIC_RECORD_KIND.CLOSE, length: 0 }));
        txProd += RECORD_HEADER_SIZE;
      }
      prod = rings.counter("rxProd");
    }
    rings.setCounter("rxCons", this.#rxCons);
    if (txProd !== this.#txProd) {
      this.#txProd = txProd;
      rings.setCounter("txProd", txProd);
    }
  }

  /** Sends a record to the host as the agent would (for tests of the host's TX side). */
  sendRaw(rings: NicRings, conn: number, kind: number, payload: Uint8Array): void {
    rings.put("tx", this.#txProd, encodeRecordHeader({ conn, kind: kind as 1 | 2 | 3, length: payload.length }));
    rings.put("tx", this.#txProd + RECORD_HEADER_SIZE, payload);
    this.#txProd += RECORD_HEADER_SIZE + payload.length;
    rings.setCounter("txProd", this.#txProd);
  }
}

export type GuestScript = (cpu: Cpu, n: number) => StepResult | undefined;

export class FakeGuest implements VcpuProgram {
  /** Steps retired per vCPU. */
  readonly steps: number[] = [];
  script: GuestScript | undefined;

  step(cpu: Cpu): StepResult {
    const n = this.steps[cpu.vcpu] ?? 0;
    const r = this.script?.(cpu, n);
    this.steps[cpu.vcpu] = n + 1;
    return r ?? { kind: "next" };
  }
}

export const GUEST_DATA_GPA = gpa(0x200000);
