/**
 * Launch in QEMU's order (SNP.md §3; the plan is src/shared/spec/seven-launch.ts):
 * SNP_LAUNCH_START with the guest policy; for every page of `launchPlan`, its plaintext is
 * written while the page still belongs to the hypervisor and then SNP_LAUNCH_UPDATE
 * measures and assigns it (guest RAM pre-granted RWX to VMPL1, the guest GHCB pages left
 * shared because the plan skips them); SNP_LAUNCH_FINISH with HOST_DATA.
 *
 * `expectedMeasurement` folds the same plan through the chaining rule without a machine:
 * it is what `seven measure` prints and what target.json records, and a test checks that
 * it equals the digest the ASP reports after a real launch.
 */
import type { Gpa } from "../shared/base/index.js";
import { toHex } from "../shared/base/index.js";
import { GUEST_POLICY_DEFAULT, computeLayout, initialLaunchDigest, launchDigestExtend, launchPlan } from "../shared/spec/index.js";
import type { LaunchPage, SevenLayout } from "../shared/spec/index.js";
import type { HypervisorPort } from "../platform/index.js";
import { HostError } from "./errors.js";

/** Everything the measurement depends on. */
export interface LaunchInputs {
  readonly memoryBytes: bigint;
  readonly vcpus: number;
  /** The agent image (measured NORMAL pages at the start of the agent region). */
  readonly agentImage: Uint8Array;
  /** The agent's encoded configuration (one measured NORMAL page). */
  readonly agentConfig: Uint8Array;
  /** The initial 4 KiB VMSA page of `vcpu` at `vmpl` (0 = agent, 1 = guest). */
  readonly vmsaPage: (vmpl: 0 | 1, vcpu: number, layout: SevenLayout) => Uint8Array;
}

export interface LaunchOptions {
  /** Guest policy for SNP_LAUNCH_START (default 0x30000: SMT allowed, no debug). */
  readonly policy?: bigint;
  /** HOST_DATA for SNP_LAUNCH_FINISH (32 bytes; default zero). Not measured; shown in the report. */
  readonly hostData?: Uint8Array;
  /** Called every 4096 pages and at the end. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface LaunchResult {
  readonly layout: SevenLayout;
  /** The ASP's launch digest after LAUNCH_FINISH (48 bytes). */
  readonly measurement: Uint8Array;
  /** LAUNCH_UPDATE commands issued. */
  readonly pages: number;
  readonly policy: bigint;
  readonly hostData: Uint8Array;
}

function plan(inputs: LaunchInputs): { layout: SevenLayout; pages: Iterable<LaunchPage>; total: number } {
  const layout = computeLayout({ memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus });
  const pages = launchPlan(layout, {
    agentImage: inputs.agentImage,
    agentConfig: inputs.agentConfig,
    vmsaPage: (vmpl, vcpu) => inputs.vmsaPage(vmpl, vcpu, layout),
  });
  return { layout, pages, total: pageCount(layout) };
}

function pageCount(l: SevenLayout): number {
  return l.imagePages + 3 + l.heapPages + Number(l.guestRamEnd / 4096n) - l.guestGhcb.length + 2 * l.vcpus;
}

/** Number of LAUNCH_UPDATE commands a launch of this shape issues. */
export function launchPageCount(p: { memoryBytes: bigint; vcpus: number }): number {
  return pageCount(computeLayout(p));
}

/** The launch digest a launch with these inputs must end with (pure; no machine). */
export function expectedMeasurement(inputs: LaunchInputs): Uint8Array {
  let d = initialLaunchDigest();
  for (const p of plan(inputs).pages) {
    d = launchDigestExtend(d, { type: p.type, gpa: p.gpa, vmplPerms: p.vmplPerms, ...(p.contents !== undefined ? { contents: p.contents } : {}) });
  }
  return d;
}

export const expectedMeasurementHex = (inputs: LaunchInputs): string => toHex(expectedMeasurement(inputs));

/**
 * Launches the CVM on `hv` (an SEV-SNP machine fresh from createMachine). Throws
 * HostError("LAUNCH_FAILED") naming the step when the firmware refuses one.
 */
export function launchCvm(hv: HypervisorPort, inputs: LaunchInputs, opts: LaunchOptions = {}): LaunchResult {
  if (!hv.sev) throw new HostError("BAD_STATE", "launchCvm needs an SEV-SNP machine (use bootPlain for --no-sev)");
  if (hv.memoryBytes !== inputs.memoryBytes || hv.vcpuCount !== inputs.vcpus) {
    throw new HostError("BAD_OPTION", "launch inputs do not match the machine", {
      machine: { memoryBytes: hv.memoryBytes, vcpus: hv.vcpuCount },
      inputs: { memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus },
    });
  }
  const policy = opts.policy ?? GUEST_POLICY_DEFAULT;
  const hostData = opts.hostData ?? new Uint8Array(32);
  const { layout, pages, total } = plan(inputs);
  step("SNP_LAUNCH_START", () => hv.asp.launchStart({ policy }));
  let n = 0;
  for (const p of pages) {
    step(`SNP_LAUNCH_UPDATE #${n} (${p.type} at 0x${p.gpa.toString(16)})`, () => {
      if (p.contents !== undefined) hv.write(p.gpa, p.contents);
      hv.asp.launchUpdate({ gpa: p.gpa, type: p.type, vmplPerms: p.vmplPerms });
    });
    n++;
    if ((n & 4095) === 0) opts.onProgress?.(n, total);
  }
  step("SNP_LAUNCH_FINISH", () => hv.asp.launchFinish({ hostData }));
  opts.onProgress?.(n, total);
  return { layout, measurement: new Uint8Array(hv.asp.launchDigest), pages: n, policy, hostData: new Uint8Array(hostData) };
}

function step(name: string, f: () => void): void {
  try {
    f();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new HostError("LAUNCH_FAILED", `${name} failed: ${e instanceof Error ? e.message : String(e)}`, { step: name, cause: code }, { cause: e });
  }
}

/**
 * Non-confidential boot (`--no-sev`): no launch commands exist; the VMM simply writes the
 * guest's initial VMSA pages (plaintext, like KVM loading registers).
 */
export function bootPlain(hv: HypervisorPort, inputs: Pick<LaunchInputs, "memoryBytes" | "vcpus" | "vmsaPage">): { layout: SevenLayout } {
  if (hv.sev) throw new HostError("BAD_STATE", "bootPlain is for a machine without SEV");
  const layout = computeLayout({ memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus });
  for (let v = 0; v < layout.vcpus; v++) hv.write(layout.vmsa1[v]! as Gpa, inputs.vmsaPage(1, v, layout));
  return { layout };
}
