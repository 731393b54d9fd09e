/**
 * Swapping guest-request responses (DESIGN.md "swap in a different report"): after the ASP
 * has written the response page of a successful SNP_GUEST_REQUEST, the host overwrites it
 * with an older response of this VM (`replay`; the first one it saw) or with a response of
 * another VM (`foreign`). The requester must notice: the message's sequence number, or its
 * AES-GCM tag under the requester's VMPCK, is wrong.
 */
import type { Clock } from "../../shared/base/index.js";
import { PAGE_SIZE } from "../../shared/base/index.js";
import type { HypervisorPort } from "../../platform/index.js";
import type { ResponseHook } from "../ghcb-handler.js";
import type { Counters, HostLog } from "../observe.js";
import { foreignReportResponse } from "./foreign-vm.js";

export function reportSwapper(mode: "replay" | "foreign", hv: HypervisorPort, seed: string, clock: Clock, counters: Counters, log: HostLog): ResponseHook {
  let older: Uint8Array | undefined;
  let foreign: Uint8Array | undefined;
  return ({ vcpu, vmpl, responseGpa }) => {
    const fresh = hv.read(responseGpa, PAGE_SIZE);
    let swap: Uint8Array | undefined;
    if (mode === "replay") {
      swap = older;
      older ??= fresh;
    } else {
      foreign ??= foreignReportResponse(seed, clock);
      swap = foreign;
    }
    if (swap === undefined) return;
    hv.write(responseGpa, swap);
    counters.inc("adversary.swap-report");
    log.event("adversary.swap-report", `replaced the guest-request response of vCPU ${vcpu} VMPL${vmpl} with ${mode === "replay" ? "an older one" : "another VM's"}`, {
      vcpu,
      vmpl,
      mode,
    });
  };
}
