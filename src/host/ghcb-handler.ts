/**
 * VMGEXIT handling — SNP.md §6.1–6.3 and our hypervisor extensions (seven-hv.ts). On a
 * VMGEXIT the host learns only the GHCB MSR value of the exiting VMSA: either an MSR-
 * protocol request (GHCBInfo ≠ 0) or the GPA of a GHCB page, which must be a shared page
 * (the host reads and writes it in plaintext). Requests handled:
 *   MSR protocol: SEV info, HV features, CPUID, register GHCB GPA, page state change
 *     (RMPUPDATE), run at VMPL, terminate;
 *   GHCB (NAE): GUEST_REQUEST / EXT_GUEST_REQUEST (the ASP's SNP_GUEST_REQUEST; result in
 *     sw_exit_info_2 = vmm_err << 32 | fw_err), PSC (page-state-change descriptor in the
 *     shared buffer), SNP_RUN_VMPL, HV_FEATURES, TERM_REQUEST, and SEVEN_NAE_YIELD from the
 *     agent (flags in sw_exit_info_1, wake-up delay in sw_exit_info_2).
 * MSR-protocol answers need a writable GHCB MSR: the platform port offers it as
 * `setGhcbMsr(vmsaGpa, value)` (the VMCB's GHCB GPA field); without it the answer is
 * counted as undeliverable.
 */
import type { Gpa } from "../shared/base/index.js";
import { PAGE_SIZE, readU16, readU64, writeU16 } from "../shared/base/index.js";
import {
  CERT_TABLE_GUID,
  GHCB_HV_FEATURE,
  GHCB_MSR,
  GHCB_MSR_INFO_MASK,
  GHCB_PSC_OP,
  GHCB_SHARED_BUFFER_OFFSET,
  GHCB_SHARED_BUFFER_SIZE,
  GUEST_REQUEST_VMM_ERR,
  NAE_EXIT,
  SEVEN_NAE_YIELD,
  decodePscReq,
  decodeRegisterGhcbReq,
  decodeRunVmplReq,
  decodeTerminateReq,
  decodeCpuidReq,
  encodeCpuidResp,
  encodeGuestRequestResult,
  encodeHvFeaturesResp,
  encodePscResp,
  encodeRegisterGhcbResp,
  encodeRunVmplResp,
  encodeSevInfoResp,
  ghcbGet,
  ghcbSet,
  serializeCertTable,
} from "../shared/spec/index.js";
import type { HypervisorPort, VmExit } from "../platform/index.js";
import type { Counters, HostLog } from "./observe.js";

export type GhcbOutcome =
  /** Answered; the context may continue. */
  | { readonly kind: "handled" }
  /** SEVEN_NAE_YIELD from the agent. */
  | { readonly kind: "yield"; readonly flags: bigint; readonly delayNs: bigint }
  /** The context asks to run another VMPL of its vCPU (SVSM-style call or return). */
  | { readonly kind: "run-vmpl"; readonly vmpl: number }
  | { readonly kind: "terminate"; readonly reasonSet: number; readonly reason: number }
  /** Not understood (counted, logged; the context continues). */
  | { readonly kind: "unsupported"; readonly what: string };

/** The platform's optional VMCB GHCB-MSR writer (see the file comment). */
interface GhcbMsrWriter {
  setGhcbMsr(vmsaGpa: Gpa, value: bigint): void;
}

function msrWriter(hv: HypervisorPort): GhcbMsrWriter | undefined {
  const f = (hv as unknown as Partial<GhcbMsrWriter>).setGhcbMsr;
  return typeof f === "function" ? { setGhcbMsr: (g, v) => f.call(hv, g, v) } : undefined;
}

/** Called after a successful guest request has written its response page (report swapping). */
export type ResponseHook = (p: { vcpu: number; vmpl: number; requestGpa: Gpa; responseGpa: Gpa }) => void;

/** GHCB protocol version range the host speaks (SNP needs 2). */
export const GHCB_PROTOCOL_MIN = 2;
export const GHCB_PROTOCOL_MAX = 2;
/** The ASP status the host reports when the firmware call itself threw. */
const FW_ERR_HOST = 0xffff;

export class GhcbHandler {
  readonly #hv: HypervisorPort;
  readonly #counters: Counters;
  readonly #log: HostLog;
  readonly #msr: GhcbMsrWriter | undefined;
  /** Registered GHCB GPA per "vcpu/vmpl". */
  readonly #registered = new Map<string, bigint>();
  responseHook: ResponseHook | undefined;

  constructor(hv: HypervisorPort, counters: Counters, log: HostLog) {
    this.#hv = hv;
    this.#counters = counters;
    this.#log = log;
    this.#msr = msrWriter(hv);
  }

  handle(vcpu: number, vmpl: number, vmsaGpa: Gpa, exit: VmExit): GhcbOutcome {
    const msr = BigInt.asUintN(64, exit.ghcbMsr);
    const info = Number(msr & GHCB_MSR_INFO_MASK);
    if (info === 0 && msr !== 0n) return this.#ghcbPage(vcpu, vmpl, msr as Gpa);
    return this.#msrProtocol(vcpu, vmpl, vmsaGpa, msr, info);
  }

  // ------------------------------------------------------------------ MSR protocol

  #msrProtocol(vcpu: number, vmpl: number, vmsaGpa: Gpa, msr: bigint, info: number): GhcbOutcome {
    const c = (what: string): void => this.#counters.inc(`vmgexit.msr.${what}`);
    const answer = (v: bigint): void => {
      if (this.#msr === undefined) {
        this.#counters.inc("vmgexit.msr.undeliverable");
        return;
      }
      this.#msr.setGhcbMsr(vmsaGpa, v);
    };
    try {
      switch (info) {
        case GHCB_MSR.SEV_INFO_REQ:
          c("sev-info");
          answer(encodeSevInfoResp({ maxProtocol: GHCB_PROTOCOL_MAX, minProtocol: GHCB_PROTOCOL_MIN, cBit: this.#hv.cBit }));
          return { kind: "handled" };
        case GHCB_MSR.HV_FEATURES_REQ:
          c("hv-features");
          answer(encodeHvFeaturesResp(GHCB_HV_FEATURE.SNP));
          return { kind: "handled" };
        case GHCB_MSR.CPUID_REQ: {
          c("cpuid");
          const { fn, reg } = decodeCpuidReq(msr);
          answer(encodeCpuidResp(this.#cpuid(fn, reg)));
          return { kind: "handled" };
        }
        case GHCB_MSR.REG_GPA_REQ: {
          c("register-ghcb");
          const gfn = decodeRegisterGhcbReq(msr);
          const ok = gfn * BigInt(PAGE_SIZE) < this.#hv.memoryBytes;
          if (ok) this.#registered.set(`${vcpu}/${vmpl}`, gfn * BigInt(PAGE_SIZE));
          answer(encodeRegisterGhcbResp(ok ? gfn : (1n << 52n) - 1n));
          return { kind: "handled" };
        }
        case GHCB_MSR.PSC_REQ: {
          c("psc");
          const { gfn, op } = decodePscReq(msr);
          answer(encodePscResp(this.#pageState(gfn * BigInt(PAGE_SIZE), op, 1) ? 0 : 1));
          return { kind: "handled" };
        }
        case GHCB_MSR.RUN_VMPL_REQ: {
          c("run-vmpl");
          const target = decodeRunVmplReq(msr);
          answer(encodeRunVmplResp(target <= 1 ? 0 : 1));
          return target <= 1 ? { kind: "run-vmpl", vmpl: target } : { kind: "unsupported", what: `run at VMPL${target}` };
        }
        case GHCB_MSR.TERM_REQ: {
          c("terminate");
          return { kind: "terminate", ...decodeTerminateReq(msr) };
        }
        default:
          return this.#unsupported(vcpu, vmpl, `GHCB MSR request 0x${info.toString(16)}`);
      }
    } catch (e) {
      return this.#unsupported(vcpu, vmpl, `GHCB MSR request 0x${info.toString(16)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** A few CPUID answers (hints: an SNP guest checks them against its CPUID page). */
  #cpuid(fn: number, reg: number): number {
    if (fn === 0x8000_001f) {
      // EAX: SME | SEV | SEV-ES | SNP (bits 0,1,3,4); EBX: C-bit position (5:0), phys-addr reduction 1 (11:6).
      if (reg === 0) return 0b11011;
      if (reg === 1) return (this.#hv.cBit & 0x3f) | (1 << 6);
    }
    if (fn === 0 && reg === 0) return 0x10;
    return 0;
  }

  // ------------------------------------------------------------------ GHCB page

  #ghcbPage(vcpu: number, vmpl: number, gpa: Gpa): GhcbOutcome {
    if (gpa + BigInt(PAGE_SIZE) > this.#hv.memoryBytes || !this.#shared(gpa)) {
      return this.#unsupported(vcpu, vmpl, `GHCB at 0x${gpa.toString(16)} is not a shared page`);
    }
    const reg = this.#registered.get(`${vcpu}/${vmpl}`);
    if (reg !== undefined && reg !== gpa) this.#counters.inc("vmgexit.ghcb.unregistered");
    const page = this.#hv.read(gpa, PAGE_SIZE);
    const code = ghcbGet(page, "sw_exit_code");
    const info1 = ghcbGet(page, "sw_exit_info_1") ?? 0n;
    const info2 = ghcbGet(page, "sw_exit_info_2") ?? 0n;
    let out: GhcbOutcome = { kind: "handled" };
    let status = 0n;
    switch (code === undefined ? -1 : Number(code)) {
      case SEVEN_NAE_YIELD:
        if (vmpl !== 0) {
          out = this.#unsupported(vcpu, vmpl, "SEVEN_NAE_YIELD from a VMPL other than 0");
          status = 2n;
          break;
        }
        this.#counters.inc("vmgexit.nae.yield");
        return { kind: "yield", flags: info1, delayNs: info2 };
      case NAE_EXIT.GUEST_REQUEST:
        this.#counters.inc("vmgexit.nae.guest-request");
        ghcbSet(page, "sw_exit_info_2", this.#guestRequest(vcpu, vmpl, info1 as Gpa, info2 as Gpa));
        break;
      case NAE_EXIT.EXT_GUEST_REQUEST:
        this.#counters.inc("vmgexit.nae.ext-guest-request");
        this.#extGuestRequest(vcpu, vmpl, page, info1 as Gpa, info2 as Gpa);
        break;
      case NAE_EXIT.PSC:
        this.#counters.inc("vmgexit.nae.psc");
        status = this.#pscDescriptor(page) ? 0n : 2n;
        break;
      case NAE_EXIT.SNP_RUN_VMPL:
        this.#counters.inc("vmgexit.nae.run-vmpl");
        out = info1 <= 1n ? { kind: "run-vmpl", vmpl: Number(info1) } : this.#unsupported(vcpu, vmpl, `run at VMPL${info1}`);
        if (out.kind === "unsupported") status = 2n;
        break;
      case NAE_EXIT.HV_FEATURES:
        this.#counters.inc("vmgexit.nae.hv-features");
        ghcbSet(page, "sw_exit_info_2", GHCB_HV_FEATURE.SNP);
        break;
      case NAE_EXIT.TERM_REQUEST:
        this.#counters.inc("vmgexit.nae.terminate");
        return { kind: "terminate", reasonSet: Number((info1 >> 12n) & 0xfn), reason: Number((info1 >> 16n) & 0xffn) };
      default:
        out = this.#unsupported(vcpu, vmpl, `NAE exit code ${code === undefined ? "(not valid)" : "0x" + code.toString(16)}`);
        status = 2n;
    }
    ghcbSet(page, "sw_exit_info_1", status);
    this.#hv.write(gpa, page);
    return out;
  }

  #shared(gpa: Gpa): boolean {
    return !this.#hv.sev || !this.#hv.rmpRead(gpa).assigned;
  }

  #guestRequest(vcpu: number, vmpl: number, req: Gpa, rsp: Gpa): bigint {
    let fw: number;
    try {
      fw = this.#hv.asp.guestRequest(req, rsp);
    } catch (e) {
      const st = (e as { details?: { status?: unknown } }).details?.status;
      fw = typeof st === "number" ? st : FW_ERR_HOST;
      this.#log.event("vmgexit.guest-request-error", `guest request from vCPU ${vcpu} VMPL${vmpl} failed: ${e instanceof Error ? e.message : String(e)}`, { vcpu, vmpl });
    }
    if (fw !== 0) this.#counters.inc("vmgexit.guest-request.fw-error");
    else this.responseHook?.({ vcpu, vmpl, requestGpa: req, responseGpa: rsp });
    return encodeGuestRequestResult({ vmmError: GUEST_REQUEST_VMM_ERR.NONE, fwError: fw });
  }

  /** EXT_GUEST_REQUEST: RAX = certificate buffer GPA, RBX = its pages (SNP.md §6.3). */
  #extGuestRequest(vcpu: number, vmpl: number, page: Uint8Array, req: Gpa, rsp: Gpa): void {
    const buf = (ghcbGet(page, "rax") ?? 0n) as Gpa;
    const pages = ghcbGet(page, "rbx") ?? 0n;
    let table: Uint8Array;
    try {
      const certs = this.#hv.asp.certificates();
      table = serializeCertTable([
        { guid: CERT_TABLE_GUID.VCEK, data: certs.vcek },
        { guid: CERT_TABLE_GUID.ASK, data: certs.ask },
        { guid: CERT_TABLE_GUID.ARK, data: certs.ark },
      ]);
    } catch {
      table = new Uint8Array(0);
    }
    const need = BigInt(Math.ceil(table.length / PAGE_SIZE));
    if (pages < need) {
      ghcbSet(page, "rbx", need);
      ghcbSet(page, "sw_exit_info_2", encodeGuestRequestResult({ vmmError: GUEST_REQUEST_VMM_ERR.INVALID_LEN, fwError: 0 }));
      return;
    }
    for (let o = 0n; o < need; o++) {
      const g = (buf + o * BigInt(PAGE_SIZE)) as Gpa;
      if (g % BigInt(PAGE_SIZE) !== 0n || g + BigInt(PAGE_SIZE) > this.#hv.memoryBytes || !this.#shared(g)) {
        ghcbSet(page, "sw_exit_info_2", encodeGuestRequestResult({ vmmError: GUEST_REQUEST_VMM_ERR.NONE, fwError: FW_ERR_HOST }));
        return;
      }
    }
    if (table.length > 0) this.#hv.write(buf, table);
    ghcbSet(page, "sw_exit_info_2", this.#guestRequest(vcpu, vmpl, req, rsp));
  }

  /**
   * The PSC descriptor in the shared buffer (Linux `struct snp_psc_desc`): header
   * {u16 cur_entry, u16 end_entry, u32 reserved}, then u64 entries {cur_page 11:0,
   * gfn 51:12, operation 55:52, pagesize 56}. Processes cur..end and advances cur_entry.
   */
  #pscDescriptor(page: Uint8Array): boolean {
    const buf = page.subarray(GHCB_SHARED_BUFFER_OFFSET, GHCB_SHARED_BUFFER_OFFSET + GHCB_SHARED_BUFFER_SIZE);
    const max = (GHCB_SHARED_BUFFER_SIZE - 8) / 8;
    let cur = readU16(buf, 0);
    const end = readU16(buf, 2);
    if (end >= max || cur > end) return false;
    for (; cur <= end; cur++) {
      const e = readU64(buf, 8 + cur * 8);
      const gfn = (e >> 12n) & ((1n << 40n) - 1n);
      const op = Number((e >> 52n) & 0xfn);
      const big = ((e >> 56n) & 1n) === 1n;
      if (!this.#pageState(gfn * BigInt(PAGE_SIZE), op, big ? 512 : 1)) {
        writeU16(buf, 0, cur);
        return false;
      }
    }
    writeU16(buf, 0, cur);
    return true;
  }

  /** RMPUPDATE for a page-state change: private = assigned, shared = hypervisor-owned. */
  #pageState(gpa: bigint, op: number, pages: number): boolean {
    if (!this.#hv.sev) return true;
    if (op !== GHCB_PSC_OP.PRIVATE && op !== GHCB_PSC_OP.SHARED) return false;
    if (gpa < 0n || gpa + BigInt(pages * PAGE_SIZE) > this.#hv.memoryBytes) return false;
    try {
      for (let i = 0; i < pages; i++) {
        this.#hv.rmpUpdate((gpa + BigInt(i * PAGE_SIZE)) as Gpa, { assigned: op === GHCB_PSC_OP.PRIVATE });
      }
      this.#counters.inc(op === GHCB_PSC_OP.PRIVATE ? "rmpupdate.private" : "rmpupdate.shared", pages);
      return true;
    } catch (e) {
      this.#log.event("vmgexit.psc-error", `page state change at 0x${gpa.toString(16)} failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  #unsupported(vcpu: number, vmpl: number, what: string): GhcbOutcome {
    this.#counters.inc("vmgexit.unsupported");
    if (this.#counters.get("vmgexit.unsupported") <= 20) this.#log.event("vmgexit.unsupported", `vCPU ${vcpu} VMPL${vmpl}: ${what}`, { vcpu, vmpl });
    return { kind: "unsupported", what };
  }
}
