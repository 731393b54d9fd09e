/**
 * The policy suite every live comparison runs: pause the guest, `ps`, `lsmod`, all
 * integrity checks, resume — the same Vmi + Linux code whatever the driver underneath.
 * The kernel is located once per session (discovery is not part of the suite); the
 * kernel-text check compares against a baseline recorded by the first run.
 */
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import {
  ALL_REQUIREMENTS, Vmi, loadKernelProfile, lsmod, memoryBaselineStore, openLinux, ps, runChecks, runPlugin,
  type BaselineStore, type CheckResult, type Driver, type KernelLocation,
} from "../../src/client/index.js";
import type { Profile } from "../../src/shared/kernel/index.js";

const ISF = fileURLToPath(new URL("../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url));
let profile: Promise<Profile> | undefined;

/** The committed Debian 6.1 profile, loaded once per run. */
export function benchProfile(): Promise<Profile> {
  profile ??= loadKernelProfile({ isf: ISF });
  return profile;
}

export interface SuiteRun {
  readonly ms: number;
  readonly pauseMs: number;
  readonly psMs: number;
  readonly lsmodMs: number;
  readonly checksMs: number;
  readonly resumeMs: number;
  readonly processes: number;
  readonly modules: number;
  readonly checks: readonly CheckResult[];
}

export class PolicySuite {
  readonly vmi: Vmi;
  readonly location: KernelLocation;
  readonly #profile: Profile;
  readonly #baseline: BaselineStore;

  private constructor(vmi: Vmi, profile: Profile, location: KernelLocation) {
    this.vmi = vmi;
    this.#profile = profile;
    this.location = location;
    this.#baseline = memoryBaselineStore();
  }

  /** A Vmi over `driver`, the kernel located (while paused). */
  static async open(driver: Driver): Promise<PolicySuite> {
    const prof = await benchProfile();
    const vmi = await Vmi.open(driver);
    await vmi.pause();
    try {
      const k = await openLinux(vmi, prof, { requirements: ALL_REQUIREMENTS });
      return new PolicySuite(vmi, prof, k.location);
    } finally {
      await vmi.resume();
    }
  }

  async run(): Promise<SuiteRun> {
    const t0 = performance.now();
    await this.vmi.pause();
    const t1 = performance.now();
    let t2 = t1, t3 = t1, t4 = t1;
    let processes = 0, modules = 0;
    let checks: readonly CheckResult[] = [];
    try {
      const k = await openLinux(this.vmi, this.#profile, { requirements: ALL_REQUIREMENTS, location: this.location });
      processes = (await runPlugin(ps, k, {})).rows.length;
      t2 = performance.now();
      modules = (await runPlugin(lsmod, k, {})).rows.length;
      t3 = performance.now();
      checks = (await runChecks(k, undefined, { baseline: this.#baseline })).checks;
      t4 = performance.now();
    } finally {
      await this.vmi.resume();
    }
    const t5 = performance.now();
    return { ms: t5 - t0, pauseMs: t1 - t0, psMs: t2 - t1, lsmodMs: t3 - t2, checksMs: t4 - t3, resumeMs: t5 - t4, processes, modules, checks };
  }
}

/** "hidden-processes clean, …" for notes. */
export function checkSummary(checks: readonly CheckResult[]): string {
  return checks.map((c) => `${c.check} ${c.status}${c.findings > 0 ? ` (${c.findings})` : ""}${c.error ? ` [${c.error.code}]` : ""}`).join(", ");
}
