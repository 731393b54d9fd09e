/**
 * A command's session with a Linux target: flags checked, the profile loaded (first, so a
 * bad profile fails before any connection), the target opened and attested, a Vmi over
 * its driver, the kernel discovered (KASLR, page-table root) and the plugin's tables
 * bound. Always closed afterwards.
 */
import type { Profile } from "../../../shared/kernel/index.js";
import { Vmi, openLinux, type AnyRequirements, type LinuxKernel } from "../../../client/index.js";
import { checkProfileFlags, checkTargetFlags, loadProfile, openTarget, type OpenTarget, type TargetFlags, type TargetNeed } from "./target.js";

export interface LinuxSession {
  readonly target: OpenTarget;
  readonly vmi: Vmi;
  readonly kernel: LinuxKernel;
  readonly profile: Profile;
  /** Resumes a live target paused for the setup (idempotent; also done at the end). */
  release(): Promise<void>;
}

export interface WithLinuxOptions {
  readonly requirements?: readonly AnyRequirements[];
  /**
   * Pause a live target (a consistent view, cached while paused; resumed at the end or at
   * `release()`). Without a pause, live memory is read fresh every time.
   */
  readonly pause?: boolean;
}

export async function withTarget<T>(flags: TargetFlags, need: TargetNeed, command: string, fn: (t: OpenTarget) => Promise<T>): Promise<T> {
  checkTargetFlags(flags, need, command);
  const t = await openTarget(flags, need, command);
  try {
    return await fn(t);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export async function withLinux<T>(flags: TargetFlags, need: TargetNeed, command: string, o: WithLinuxOptions, fn: (s: LinuxSession) => Promise<T>): Promise<T> {
  const kind = checkTargetFlags(flags, need, command);
  checkProfileFlags(flags, kind, command);
  const profile = await loadProfile(flags);
  return withTarget(flags, need, command, async (target) => {
    // Images are cached always; live memory only while paused (the Vmi's default policy).
    const vmi = await Vmi.open(target.driver);
    let paused = o.pause === true && target.driver.capabilities.pause;
    if (paused) await vmi.pause();
    const release = async (): Promise<void> => {
      if (!paused) return;
      paused = false;
      await vmi.resume();
    };
    try {
      const kernel = await openLinux(vmi, profile, { requirements: o.requirements ?? [] });
      return await fn({ target, vmi, kernel, profile, release });
    } finally {
      await release().catch(() => undefined);
    }
  });
}
