/**
 * Drives an owner session one request at a time (so each request is one relayed record the
 * host can target) and checks every answer against the platform's plaintext: whatever the
 * host does to the stream, the owner gets either the truth or an error — never wrong data.
 */
import assert from "node:assert/strict";
import type { AgentV1Driver } from "../../../src/client/index.js";
import { PAGE, waitFor, type SecWorld } from "./world.js";

export interface ProbeResult {
  /** Reads answered (each equal to the plaintext). */
  readonly answered: number;
  /** The error that ended the run, if one did. */
  readonly error: unknown;
}

/** Up to `n` sequential reads of kernel-text pages; stops at the first failure. */
export async function probeReads(sw: SecWorld, d: AgentV1Driver, n: number): Promise<ProbeResult> {
  const truth = sw.plaintext(sw.textPa, 8 * PAGE);
  let answered = 0;
  for (let i = 0; i < n; i++) {
    const off = (i % 8) * PAGE;
    let got;
    try {
      [got] = await d.readPhys([{ gpa: sw.textPa + BigInt(off), len: PAGE }]);
    } catch (e) {
      return { answered, error: e };
    }
    assert.ok(got instanceof Uint8Array, `read ${i} failed with ${String(got)}`);
    assert.deepEqual(got, truth.subarray(off, off + PAGE), `read ${i}: the owner got exactly the plaintext`);
    answered++;
  }
  return { answered, error: undefined };
}

export interface PairResult {
  /** Pairs answered correctly before the attack hit. */
  readonly pairs: number;
  /** How the two requests of the attacked pair ended (undefined = answered). */
  readonly errors: readonly [unknown, unknown];
}

/**
 * Sends reads in pairs — A, then (once the host has read A off the socket, so A and B are
 * separate relayed records) B — until the host's `counter` shows its attack acted; returns
 * how the attacked pair ended. Every answered read must be the plaintext.
 */
export async function probePairs(sw: SecWorld, d: AgentV1Driver, counter: string, maxPairs = 20): Promise<PairResult> {
  const truth = sw.plaintext(sw.textPa, PAGE);
  const c = () => sw.world.host.counters();
  for (let i = 0; i < maxPairs; i++) {
    const bytes = c()["nic.rx.socket-bytes"] ?? 0;
    const a = settle(d.readPhys([{ gpa: sw.textPa, len: PAGE }]));
    await waitFor(() => (c()["nic.rx.socket-bytes"] ?? 0) > bytes, 10_000, "the host reading request A");
    const b = settle(d.readPhys([{ gpa: sw.textPa, len: PAGE }]));
    const [ra, rb] = await Promise.all([a, b]);
    if ((c()[counter] ?? 0) > 0) return { pairs: i, errors: [ra.error, rb.error] };
    for (const r of [ra, rb]) {
      assert.equal(r.error, undefined, String(r.error));
      assert.deepEqual(r.value?.[0], truth, "the owner got exactly the plaintext");
    }
  }
  throw new Error(`the attack (${counter}) never acted`);
}

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
}

/** Resolves with `p`'s outcome, or with `undefined` when it has not settled after `ms` (a hang is a finding, not a stuck test). */
export async function within<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([settle(p), t]);
  } finally {
    clearTimeout(timer);
  }
}
