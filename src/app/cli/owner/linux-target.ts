/**
 * A command's session with a Linux target: flags checked, the profile loaded (first, so a
 * bad profile fails before any connection), the target opened and attested, a Vmi over
 * its driver, the kernel discovered (KASLR, page-table root) and the plugin's tables
 * bound. Always closed afterwards.
 */
import type { Profile } from "../../../shared/kernel/index.js";
import { Vmi, WalkError, openLinux, type AnyRequirements, type LinuxKernel } from "../../../client/index.js";
import { checkProfileFlags, checkTargetFlags, loadProfile, openTarget, type OpenTarget, type TargetFlags, type TargetNeed } from "./target.js";

export interface LinuxSession {
  readonly target: OpenTarget;
  readonly vmi: Vmi;
  readonly kernel: LinuxKernel;
  readonly profile: Profile;
  /** Resumes a live target paused for the setup (idempotent; also done at the end). */
  release(): Promise<void>;
  /**
   * Lets a live target this session paused run for a moment and pauses it again, so that
   * the next reads see a fresh view. False (and nothing done) for an image or an unpaused
   * target. A pause already in force before the session (`seven pause`) stays in force.
   */
  settle(): Promise<boolean>;
}

/** How many times a walk that met a structure mid-update is tried again (after `settle`). */
export const TORN_RETRIES = 2;
/** How long the guest runs between two attempts. */
export const SETTLE_MS = 20;

/**
 * A pause lands wherever the guest happens to be, sometimes between the two stores of a
 * list or tree update: a walk then meets a pointer that does not lead back, and fails with
 * a walk error (WALK_*). `untorn` runs `attempt`; while it throws a walk error, or returns
 * what `torn` says is one, and the session can `settle`, the guest runs a moment, is paused
 * again, and `attempt` runs again with the number of the retry — at most TORN_RETRIES times.
 * The last outcome stands. On an image (nothing can change) it runs once.
 */
export async function untorn<T>(s: Pick<LinuxSession, "settle">, attempt: (retry: number) => Promise<T>, torn: (r: T) => boolean = () => false): Promise<T> {
  for (let retry = 0; ; retry++) {
    let r: T;
    try {
      r = await attempt(retry);
    } catch (e) {
      if (!(e instanceof WalkError) || retry >= TORN_RETRIES || !(await s.settle())) throw e;
      continue;
    }
    if (!torn(r) || retry >= TORN_RETRIES || !(await s.settle())) return r;
  }
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
    const settle = async (): Promise<boolean> => {
      if (!paused) return false;
      await vmi.resume();
      paused = false;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      await vmi.pause();
      paused = true;
      return true;
    };
    try {
      const kernel = await openLinux(vmi, profile, { requirements: o.requirements ?? [] });
      return await fn({ target, vmi, kernel, profile, release, settle });
    } finally {
      await release().catch(() => undefined);
    }
  });
}
