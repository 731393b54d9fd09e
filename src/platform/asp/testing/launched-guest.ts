/**
 * A small launched guest for tests: one measured page, a secrets page, a CPUID page and a
 * QEMU reset VMSA, then LAUNCH_FINISH. Returns the VMPCKs as the guest reads them from its
 * secrets page, and two shared pages for guest messages.
 */
import { gpa, PAGE_SIZE } from "../../../shared/base/index.js";
import type { Gpa } from "../../../shared/base/index.js";
import { QEMU_BSP_EIP, QEMU_DEFAULT_SEV_FEATURES, qemuResetVmsa, vmsaPage } from "../../../shared/spec/index.js";
import type { AspConfig } from "../hardware.js";
import { createSecureProcessor } from "../index.js";
import type { SecureProcessorPort } from "../index.js";
import { FakeHardware, testConfig } from "./fake-hardware.js";

export const SECRETS_GPA = gpa(0x3000);
export const REQUEST_GPA = gpa(0x10000);
export const RESPONSE_GPA = gpa(0x11000);

export interface LaunchedGuest {
  readonly hw: FakeHardware;
  readonly asp: SecureProcessorPort;
  readonly vmpck: readonly Uint8Array[];
  readonly request: Gpa;
  readonly response: Gpa;
}

export function launchGuest(
  cfg: AspConfig = testConfig(),
  opts: {
    policy?: bigint;
    /** LAUNCH_FINISH arguments, given the final launch digest (e.g. to sign an ID block over it). */
    finish?: (digest: Uint8Array) => { hostData?: Uint8Array; idBlock?: Uint8Array; idAuth?: Uint8Array };
  } = {},
): LaunchedGuest {
  const hw = new FakeHardware();
  const asp = createSecureProcessor(hw, cfg);
  asp.launchStart({ policy: opts.policy ?? 0x30000n });
  const code = new Uint8Array(PAGE_SIZE);
  code.set(new TextEncoder().encode("00SEVen test image"));
  hw.hostWrite(0x1000n, code);
  asp.launchUpdate({ gpa: gpa(0x1000), type: "normal" });
  asp.launchUpdate({ gpa: SECRETS_GPA, type: "secrets" });
  asp.launchUpdate({ gpa: gpa(0x4000), type: "cpuid" });
  hw.hostWrite(0x5000n, vmsaPage(qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: QEMU_DEFAULT_SEV_FEATURES, rdx: 0x00a00f11n })));
  asp.launchUpdate({ gpa: gpa(0x5000), type: "vmsa" });
  asp.launchFinish(opts.finish?.(asp.launchDigest) ?? {});
  const secrets = hw.readPage(SECRETS_GPA);
  const vmpck = [0x20, 0x40, 0x60, 0x80].map((o) => secrets.slice(o, o + 32));
  return { hw, asp, vmpck, request: REQUEST_GPA, response: RESPONSE_GPA };
}
