/**
 * The 00SEVen launch layout — our own specification (not AMD's): where the VMPL0 agent,
 * its configuration, the secrets/CPUID pages, the VMSAs, the GHCBs and the NIC rings sit
 * in guest-physical memory, and the order in which the hypervisor launches them (QEMU's
 * order, SNP.md §3.3). The host launches from it, `seven measure` computes the expected
 * measurement from it, and the agent reads the same numbers back from its measured
 * configuration page — so all three agree by construction.
 *
 *   0 ............................ guestRamEnd ................................ memoryBytes
 *   | guest RAM (VMPL1 pre-granted RWX)        | agent region (VMPL1: no access)        |
 *   |  low pages: guest GHCBs (shared),        |  image | config | secrets | cpuid |     |
 *   |  the guest's secrets copy                |  VMSAs | heap ... | shared: GHCBs, msg, |
 *   |                                          |  NIC control + RX ring + TX ring       |
 */
import type { Gpa } from "../base/index.js";
import { gpa, PAGE_SIZE } from "../base/index.js";
import { RMP_PERM_RWX } from "./rmp.js";

export const MIB = 1n << 20n;
export const AGENT_REGION_BYTES = 16n * MIB;
export const AGENT_IMAGE_PAGES = 32;
export const NIC_RX_BYTES = 1 << 20;
export const NIC_TX_BYTES = 4 << 20;
export const MIN_MEMORY_BYTES = 64n * MIB;
export const MAX_MEMORY_BYTES = 64n * 1024n * MIB;
export const MAX_VCPUS = 64;
/** First GPA of guest RAM the guest kernel may use for itself (below: GHCBs, secrets copy, reserved). */
export const GUEST_LOW_RESERVED_BYTES = 1n * MIB;
/** Guest GHCB pages (shared, never launched): one per vCPU starting here. */
export const GUEST_GHCB_BASE = 0x10000n;
/** Where the agent writes the guest's copy of the secrets page (VMPCK0 zeroed). */
export const GUEST_SECRETS_GPA = 0x9f000n;
/** Where the agent's entry point is (start of its image). */
export const AGENT_ENTRY_OFFSET = 0n;

export interface NicLayout {
  readonly control: Gpa;
  readonly rx: Gpa;
  readonly rxBytes: number;
  readonly tx: Gpa;
  readonly txBytes: number;
}

export interface SevenLayout {
  readonly memoryBytes: bigint;
  readonly vcpus: number;
  /** VMPL1 may use [0, guestRamEnd); this is the v0 protocol's vmpl0_begin_gpa. */
  readonly guestRamEnd: Gpa;
  readonly agentBase: Gpa;
  readonly agentEnd: Gpa;
  readonly image: Gpa;
  readonly imagePages: number;
  readonly config: Gpa;
  readonly secrets: Gpa;
  readonly cpuid: Gpa;
  /** VMSA pages, indexed by vCPU. */
  readonly vmsa0: readonly Gpa[];
  readonly vmsa1: readonly Gpa[];
  /** Private zero pages for the agent's own use. */
  readonly heap: Gpa;
  readonly heapPages: number;
  /** Shared (hypervisor-owned) pages of the agent: one GHCB per vCPU. */
  readonly agentGhcb: readonly Gpa[];
  /** Shared guest-message request/response pages for the agent's SNP guest requests. */
  readonly msgRequest: Gpa;
  readonly msgResponse: Gpa;
  readonly nic: NicLayout;
  /** Shared pages inside guest RAM: one GHCB per vCPU for the guest kernel. */
  readonly guestGhcb: readonly Gpa[];
  readonly guestSecrets: Gpa;
}

export class LayoutError extends RangeError {
  readonly code = "BAD_LAYOUT";
}

const P = BigInt(PAGE_SIZE);

export function computeLayout(p: { memoryBytes: bigint; vcpus: number }): SevenLayout {
  const { memoryBytes, vcpus } = p;
  if (memoryBytes < MIN_MEMORY_BYTES || memoryBytes > MAX_MEMORY_BYTES || memoryBytes % (2n * MIB) !== 0n) {
    throw new LayoutError(`memory size must be a multiple of 2 MiB between 64 MiB and 64 GiB (got ${memoryBytes} bytes)`);
  }
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw new LayoutError(`vCPU count must be 1..${MAX_VCPUS} (got ${vcpus})`);
  }
  const agentBase = memoryBytes - AGENT_REGION_BYTES;
  let next = agentBase;
  const take = (pages: number): bigint => {
    const at = next;
    next += BigInt(pages) * P;
    return at;
  };
  const image = take(AGENT_IMAGE_PAGES);
  const config = take(1);
  const secrets = take(1);
  const cpuid = take(1);
  const vmsa0: Gpa[] = [];
  const vmsa1: Gpa[] = [];
  for (let i = 0; i < vcpus; i++) {
    vmsa0.push(gpa(take(1)));
    vmsa1.push(gpa(take(1)));
  }
  // Shared pages are placed from the top of the region downwards.
  let top = memoryBytes;
  const takeTop = (bytes: number): bigint => {
    top -= BigInt(bytes);
    return top;
  };
  const tx = takeTop(NIC_TX_BYTES);
  const rx = takeTop(NIC_RX_BYTES);
  const control = takeTop(PAGE_SIZE);
  const msgResponse = takeTop(PAGE_SIZE);
  const msgRequest = takeTop(PAGE_SIZE);
  const agentGhcb: Gpa[] = [];
  for (let i = 0; i < vcpus; i++) agentGhcb.push(gpa(takeTop(PAGE_SIZE)));
  const heap = next;
  const heapPages = Number((top - heap) / P);
  if (heapPages < 64) throw new LayoutError("agent region too small for this many vCPUs");
  const guestGhcb: Gpa[] = [];
  for (let i = 0; i < vcpus; i++) guestGhcb.push(gpa(GUEST_GHCB_BASE + BigInt(i) * P));
  return {
    memoryBytes,
    vcpus,
    guestRamEnd: gpa(agentBase),
    agentBase: gpa(agentBase),
    agentEnd: gpa(memoryBytes),
    image: gpa(image),
    imagePages: AGENT_IMAGE_PAGES,
    config: gpa(config),
    secrets: gpa(secrets),
    cpuid: gpa(cpuid),
    vmsa0,
    vmsa1,
    heap: gpa(heap),
    heapPages,
    agentGhcb,
    msgRequest: gpa(msgRequest),
    msgResponse: gpa(msgResponse),
    nic: { control: gpa(control), rx: gpa(rx), rxBytes: NIC_RX_BYTES, tx: gpa(tx), txBytes: NIC_TX_BYTES },
    guestGhcb,
    guestSecrets: gpa(GUEST_SECRETS_GPA),
  };
}

/** True if [addr, addr+len) lies entirely in guest RAM that VMPL1 may use. */
export function inGuestRam(l: SevenLayout, addr: bigint, len: bigint): boolean {
  return addr >= 0n && len >= 0n && addr + len <= l.guestRamEnd;
}

/** True if the page at `addr` is one of the layout's shared (hypervisor-owned) pages. */
export function isSharedPage(l: SevenLayout, addr: bigint): boolean {
  const page = addr & ~(P - 1n);
  if (l.guestGhcb.includes(gpa(page))) return true;
  if (page >= l.agentBase && page < l.agentEnd) {
    return page >= (l.agentGhcb.length > 0 ? minGpa(l.agentGhcb) : l.msgRequest);
  }
  return false;
}

function minGpa(xs: readonly Gpa[]): bigint {
  let m = xs[0]!;
  for (const x of xs) if (x < m) m = x;
  return m;
}

export type LaunchPageKind = "normal" | "vmsa" | "zero" | "unmeasured" | "secrets" | "cpuid";

/** One SNP_LAUNCH_UPDATE, in launch order. `contents` for normal and vmsa pages. */
export interface LaunchPage {
  readonly gpa: Gpa;
  readonly type: LaunchPageKind;
  readonly contents?: Uint8Array;
  readonly vmplPerms: readonly [number, number, number];
}

/**
 * The launch in QEMU's order (SNP.md §3.3): agent image and configuration (measured
 * NORMAL pages), secrets and CPUID pages, the agent heap (ZERO, no lower-VMPL rights), guest
 * RAM pre-granted RWX to VMPL1 (ZERO pages; the guest GHCB pages stay shared and are not
 * launched), then one VMSA per vCPU per VMPL (VMPL0 then VMPL1 for each vCPU).
 * `vmsaPages(vmpl, vcpu)` gives the 4 KiB VMSA page contents.
 */
export function* launchPlan(
  l: SevenLayout,
  inputs: {
    agentImage: Uint8Array;
    agentConfig: Uint8Array;
    vmsaPage: (vmpl: 0 | 1, vcpu: number) => Uint8Array;
  },
): Generator<LaunchPage> {
  const none = [0, 0, 0] as const;
  if (inputs.agentImage.length > l.imagePages * PAGE_SIZE) {
    throw new LayoutError(`agent image is ${inputs.agentImage.length} bytes, the layout holds ${l.imagePages * PAGE_SIZE}`);
  }
  if (inputs.agentConfig.length > PAGE_SIZE) throw new LayoutError("agent configuration exceeds one page");
  for (let i = 0; i < l.imagePages; i++) {
    const page = new Uint8Array(PAGE_SIZE);
    page.set(inputs.agentImage.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    yield { gpa: gpa(l.image + BigInt(i) * P), type: "normal", contents: page, vmplPerms: none };
  }
  const cfg = new Uint8Array(PAGE_SIZE);
  cfg.set(inputs.agentConfig);
  yield { gpa: l.config, type: "normal", contents: cfg, vmplPerms: none };
  yield { gpa: l.secrets, type: "secrets", vmplPerms: none };
  yield { gpa: l.cpuid, type: "cpuid", vmplPerms: none };
  for (let i = 0; i < l.heapPages; i++) yield { gpa: gpa(l.heap + BigInt(i) * P), type: "zero", vmplPerms: none };
  const rwx = [RMP_PERM_RWX, 0, 0] as const;
  const ghcb = new Set(l.guestGhcb.map((g) => g as bigint));
  for (let a = 0n; a < l.guestRamEnd; a += P) {
    if (ghcb.has(a)) continue;
    yield { gpa: gpa(a), type: "zero", vmplPerms: rwx };
  }
  for (let v = 0; v < l.vcpus; v++) {
    yield { gpa: l.vmsa0[v]!, type: "vmsa", contents: inputs.vmsaPage(0, v), vmplPerms: none };
    yield { gpa: l.vmsa1[v]!, type: "vmsa", contents: inputs.vmsaPage(1, v), vmplPerms: none };
  }
}
