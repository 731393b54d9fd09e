/**
 * The agent's boot, one small unit of work per instruction (`step`), resumable across
 * VMRUNs and across vCPUs (one shared cursor):
 *  1. find itself: the image starts at the entry RIP; check the image header; read and
 *     strictly decode the measured configuration page right after the image; recompute the
 *     layout from it and check that the image, this vCPU and its VMSA sit where it says;
 *  2. PVALIDATE every private page of the agent region (launch pages come validated: the
 *     no-update answer is fine);
 *  3. RMPADJUST every private agent page to no rights for VMPL1, 2 and 3 (VMSA pages keep
 *     their VMSA bit);
 *  4. keep VMPCK0 from the secrets page; write the guest's copy (VMPCK0 zeroed) to
 *     layout.guestSecrets;
 *  5. adopt or initialise the NIC control page;
 *  6. generate the TLS key and self-signed certificate;
 *  7. turn CERT_BUFFER_PAGES heap pages shared (PVALIDATE off, then a page-state change
 *     VMGEXIT) for the extended guest request's certificate table — if the host refuses,
 *     attestation still works, without certificates.
 * Nothing is armed, nothing is paused.
 */
import type { Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE } from "../../shared/base/index.js";
import { AGENT_ENTRY_OFFSET, AGENT_IMAGE_PAGES, RMP_RESULT, SECRETS_PAGE, computeLayout, secretsPageForVmpl } from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import type { Cpu } from "../../platform/index.js";
import { decodeAgentConfig } from "../config.js";
import type { AgentConfig } from "../config.js";
import { BootError } from "../errors.js";
import { buildAgentImage } from "../image.js";
import { createTlsIdentity } from "./tls-identity.js";
import type { TlsIdentity } from "./tls-identity.js";

const P = BigInt(PAGE_SIZE);
/** Shared pages for the certificate table of EXT_GUEST_REQUEST (VCEK, ASK, ARK ≈ 5 KiB). */
export const CERT_BUFFER_PAGES = 4;
const HEADER_BYTES = 0x80;

export interface BootProducts {
  readonly config: AgentConfig;
  readonly layout: SevenLayout;
  readonly vmpck0: Uint8Array;
  readonly tls: TlsIdentity;
  /** The shared certificate buffer, or undefined if it could not be set up. */
  certBuffer: { readonly gpa: Gpa; readonly pages: number } | undefined;
}

export type BootStepResult =
  | { readonly kind: "next" }
  /** Run the page-state change: the caller VMGEXITs with this descriptor and calls `pscDone`. */
  | { readonly kind: "psc"; readonly pages: readonly Gpa[] }
  | { readonly kind: "done"; readonly products: BootProducts };

type Stage = "locate" | "pvalidate" | "revoke" | "secrets" | "nic" | "tls" | "unvalidate" | "psc" | "psc-wait" | "done";

export interface BootHooks {
  /** Step 5: the NIC driver adopts or initialises the control page. */
  readonly attachNic: (cpu: Cpu, layout: SevenLayout) => void;
  readonly entropy: (n: number) => Uint8Array;
}

export class Boot {
  #stage: Stage = "locate";
  #i = 0;
  #pages: Gpa[] = [];
  #config: AgentConfig | undefined;
  #layout: SevenLayout | undefined;
  #vmpck0: Uint8Array | undefined;
  #tls: TlsIdentity | undefined;
  #certPages: Gpa[] = [];
  #products: BootProducts | undefined;
  readonly #hooks: BootHooks;
  /** For introspection: PVALIDATEs that found the page already validated. */
  alreadyValidated = 0;

  constructor(hooks: BootHooks) {
    this.#hooks = hooks;
  }

  get stage(): Stage {
    return this.#stage;
  }

  get layout(): SevenLayout | undefined {
    return this.#layout;
  }

  get config(): AgentConfig | undefined {
    return this.#config;
  }

  /** Whether the boot waits for the page-state change of another vCPU. */
  get waiting(): boolean {
    return this.#stage === "psc-wait";
  }

  step(cpu: Cpu): BootStepResult {
    switch (this.#stage) {
      case "locate":
        this.#locate(cpu);
        this.#stage = "pvalidate";
        return { kind: "next" };
      case "pvalidate": {
        const g = this.#pages[this.#i];
        if (g === undefined) return this.#advance("revoke");
        const r = cpu.pvalidate(g, 0, true);
        if (r.rc !== RMP_RESULT.SUCCESS) throw new BootError("PLATFORM_REFUSED", `PVALIDATE of agent page 0x${g.toString(16)} failed (${r.rc})`, { gpa: g, rc: r.rc });
        if (r.noUpdate) this.alreadyValidated++;
        this.#i++;
        return { kind: "next" };
      }
      case "revoke": {
        const g = this.#pages[this.#i];
        if (g === undefined) return this.#advance("secrets");
        const vmsa = this.#isVmsa(g);
        for (const target of [1, 2, 3]) {
          const rc = cpu.rmpadjust(g, 0, target, 0, vmsa);
          if (rc !== RMP_RESULT.SUCCESS) throw new BootError("PLATFORM_REFUSED", `RMPADJUST of agent page 0x${g.toString(16)} for VMPL${target} failed (${rc})`, { gpa: g, rc });
        }
        this.#i++;
        return { kind: "next" };
      }
      case "secrets": {
        const l = this.#layout!;
        const page = cpu.readPhys(l.secrets, PAGE_SIZE);
        const s = SECRETS_PAGE.parse(page, 0, { strict: false });
        this.#vmpck0 = s.vmpck0.slice();
        cpu.writePhys(l.guestSecrets, secretsPageForVmpl(page, 1));
        page.fill(0);
        this.#stage = "nic";
        return { kind: "next" };
      }
      case "nic":
        this.#hooks.attachNic(cpu, this.#layout!);
        this.#stage = "tls";
        return { kind: "next" };
      case "tls":
        this.#tls = createTlsIdentity(this.#hooks.entropy(48), this.#hooks.entropy(16));
        this.#stage = "unvalidate";
        return { kind: "next" };
      case "unvalidate": {
        const l = this.#layout!;
        const first = l.heap + BigInt(l.heapPages - CERT_BUFFER_PAGES) * P;
        this.#certPages = Array.from({ length: CERT_BUFFER_PAGES }, (_, i) => (first + BigInt(i) * P) as Gpa);
        for (const g of this.#certPages) {
          const r = cpu.pvalidate(g, 0, false);
          if (r.rc !== RMP_RESULT.SUCCESS) return this.#finish(false);
        }
        this.#stage = "psc";
        return { kind: "next" };
      }
      case "psc":
        this.#stage = "psc-wait";
        return { kind: "psc", pages: this.#certPages };
      case "psc-wait":
        return { kind: "next" };
      case "done":
        return { kind: "done", products: this.#products! };
    }
  }

  /** Result of the page-state change (host-reported status, then checked by a shared read). */
  pscDone(cpu: Cpu, hostOk: boolean, usable: (cpu: Cpu, g: Gpa) => boolean): BootStepResult {
    if (this.#stage !== "psc-wait") return { kind: "next" };
    return this.#finish(hostOk && this.#certPages.every((g) => usable(cpu, g)));
  }

  #finish(certOk: boolean): BootStepResult {
    const l = this.#layout!;
    this.#products = {
      config: this.#config!,
      layout: l,
      vmpck0: this.#vmpck0!,
      tls: this.#tls!,
      certBuffer: certOk ? { gpa: this.#certPages[0]!, pages: this.#certPages.length } : undefined,
    };
    this.#stage = "done";
    return { kind: "done", products: this.#products };
  }

  #advance(next: Stage): BootStepResult {
    this.#stage = next;
    this.#i = 0;
    return { kind: "next" };
  }

  #isVmsa(g: Gpa): boolean {
    const l = this.#layout!;
    return l.vmsa0.includes(g) || l.vmsa1.includes(g);
  }

  #locate(cpu: Cpu): void {
    const image = cpu.getReg("rip") - AGENT_ENTRY_OFFSET;
    if (image < 0n || image % P !== 0n) throw new BootError("BAD_PLACEMENT", "the entry RIP is not the start of a page");
    const want = buildAgentImage().subarray(0, HEADER_BYTES);
    const have = cpu.readPhys(image as Gpa, HEADER_BYTES);
    for (let i = 0; i < HEADER_BYTES; i++) if (have[i] !== want[i]) throw new BootError("BAD_IMAGE", "the image at the entry point is not this agent build");
    let config: AgentConfig;
    try {
      config = decodeAgentConfig(cpu.readPhys((image + BigInt(AGENT_IMAGE_PAGES) * P) as Gpa, PAGE_SIZE));
    } catch (e) {
      throw new BootError("BAD_CONFIG", `the measured configuration does not decode: ${e instanceof Error ? e.message : String(e)}`);
    }
    const layout = computeLayout({ memoryBytes: config.memoryBytes, vcpus: config.vcpus });
    if (layout.image !== image) throw new BootError("BAD_PLACEMENT", "the image is not where the configured layout puts it");
    if (cpu.vcpu >= layout.vcpus || layout.vmsa0[cpu.vcpu] !== cpu.vmsaGpa) throw new BootError("BAD_PLACEMENT", "this VMSA is not the layout's VMPL0 VMSA of this vCPU");
    this.#config = config;
    this.#layout = layout;
    const firstShared = layout.agentGhcb.reduce((m, g) => (g < m ? g : m), layout.msgRequest);
    for (let g: bigint = layout.agentBase; g < firstShared; g += P) this.#pages.push(g as Gpa);
  }
}
