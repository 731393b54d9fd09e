/**
 * Attestation reports for the sessions: a bounded queue of REPORT_DATA requests, turned
 * one at a time into a guest request under VMPCK0 (guest-request.ts). With the shared
 * certificate buffer set up at boot it is an EXT_GUEST_REQUEST (the host adds its VCEK,
 * ASK and ARK, passed through unverified for the owner to check); without it, or if the
 * host says the buffer is too small, a plain GUEST_REQUEST with the very same message.
 */
import type { Gpa } from "../../shared/base/index.js";
import { isSevenError, PAGE_SIZE } from "../../shared/base/index.js";
import { GUEST_REQUEST_VMM_ERR, NAE_EXIT, decodeGuestRequestResult, ghcbSet, parseCertTable } from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Cpu } from "../../platform/index.js";
import type { ReportOutcome, ReportProvider } from "../service/core.js";
import { GuestChannel } from "./guest-request.js";
import type { SealedRequest } from "./guest-request.js";

/** Most attestations queued at once. */
export const MAX_QUEUED_REPORTS = 8;
/** Certificates larger than this in the host's table are ignored. */
const MAX_CERT_BYTES = 16 << 10;

export interface PendingGreq {
  readonly sealed: SealedRequest;
  readonly done: (r: ReportOutcome) => void;
  ext: boolean;
}

export class Attestation {
  readonly #channel: GuestChannel;
  readonly #layout: SevenLayout;
  readonly #certBuffer: { readonly gpa: Gpa; readonly pages: number } | undefined;
  readonly #queue: { reportData: Uint8Array; done: (r: ReportOutcome) => void }[] = [];
  #inFlight: PendingGreq | undefined;
  failed = 0;
  readonly provider: ReportProvider;

  constructor(vmpck0: Uint8Array, layout: SevenLayout, certBuffer: { readonly gpa: Gpa; readonly pages: number } | undefined) {
    this.#channel = new GuestChannel(vmpck0);
    this.#layout = layout;
    this.#certBuffer = certBuffer;
    this.provider = {
      request: (reportData, done) => {
        if (this.#queue.length >= MAX_QUEUED_REPORTS) return false;
        this.#queue.push({ reportData, done });
        return true;
      },
    };
  }

  get disabled(): boolean {
    return this.#channel.disabled;
  }

  get completed(): number {
    return this.#channel.completed;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get certificates(): boolean {
    return this.#certBuffer !== undefined;
  }

  /** The next guest request to issue, if one is queued and none is in flight. */
  next(): PendingGreq | undefined {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return undefined;
    if (this.#channel.disabled) {
      for (const r of this.#queue.splice(0)) {
        this.failed++;
        r.done({ ok: false, reason: "attestation is disabled (VMPCK0 withdrawn after a failed exchange)" });
      }
      return undefined;
    }
    const q = this.#queue.shift()!;
    this.#inFlight = { sealed: this.#channel.sealReportRequest(q.reportData), done: q.done, ext: this.#certBuffer !== undefined };
    return this.#inFlight;
  }

  /** Fills the GHCB for the request and writes the request page. */
  issue(cpu: Cpu, ghcb: Uint8Array, req: PendingGreq): void {
    const l = this.#layout;
    const cb = this.#certBuffer;
    const ext = req.ext && cb !== undefined;
    ghcbSet(ghcb, "sw_exit_code", BigInt(ext ? NAE_EXIT.EXT_GUEST_REQUEST : NAE_EXIT.GUEST_REQUEST));
    ghcbSet(ghcb, "sw_exit_info_1", l.msgRequest);
    ghcbSet(ghcb, "sw_exit_info_2", l.msgResponse);
    if (ext) {
      ghcbSet(ghcb, "rax", cb.gpa);
      ghcbSet(ghcb, "rbx", BigInt(cb.pages));
    }
    cpu.writePhys(l.msgRequest, req.sealed.page, { shared: true });
  }

  /**
   * The host is back from our request (`info2` = its vmm/firmware result). "retry" means
   * issue the same message again as a plain GUEST_REQUEST (our buffer was too small: the
   * firmware has not seen it, so no IV is reused); "done" means `req.done` was called.
   */
  complete(cpu: Cpu, req: PendingGreq, info2: bigint): "retry" | "done" {
    const { vmmError, fwError } = decodeGuestRequestResult(info2);
    if (req.ext && vmmError === GUEST_REQUEST_VMM_ERR.INVALID_LEN && fwError === 0) {
      req.ext = false;
      return "retry";
    }
    this.#inFlight = undefined;
    let outcome: ReportOutcome;
    if (vmmError !== 0 || fwError !== 0) {
      this.#channel.abandon();
      outcome = { ok: false, reason: `the secure processor answered with an error (vmm ${vmmError}, firmware 0x${fwError.toString(16)})` };
    } else {
      try {
        const report = this.#channel.openReportResponse(cpu.readPhys(this.#layout.msgResponse, PAGE_SIZE, { shared: true }));
        const certs = req.ext ? this.#readCerts(cpu) : { vcek: undefined, chain: [] };
        outcome = { ok: true, report, vcek: certs.vcek, chain: certs.chain };
      } catch (e) {
        if (!isSevenError(e) && !(e instanceof RangeError)) throw e;
        outcome = { ok: false, reason: "the guest request's response did not verify" };
      }
    }
    if (!outcome.ok) this.failed++;
    req.done(outcome);
    return "done";
  }

  /** Certificates from the host's table (untrusted, passed through for the owner to verify). */
  #readCerts(cpu: Cpu): { vcek: Uint8Array | undefined; chain: Uint8Array[] } {
    const cb = this.#certBuffer!;
    try {
      const entries = parseCertTable(cpu.readPhys(cb.gpa, cb.pages * PAGE_SIZE, { shared: true }));
      const pick = (n: string) => entries.find((e) => e.name === n && e.data.length > 0 && e.data.length <= MAX_CERT_BYTES)?.data;
      const vcek = pick("vcek") ?? pick("vlek");
      const chain = [pick("ask"), pick("ark")].filter((x): x is Uint8Array => x !== undefined);
      return { vcek, chain };
    } catch (e) {
      if (e instanceof CpuFault || isSevenError(e)) return { vcek: undefined, chain: [] };
      throw e;
    }
  }
}
