/**
 * The security tests' world: the real simulated CVM (src/app/world createWorld: platform,
 * host with its adversary switches and its NIC on a real TCP port, the Linux guest at
 * VMPL1, the agent at VMPL0), booted, with a fresh owner key, and the real client driver
 * (connectAgent: TLS 1.3, attestation, MachineInfo).
 *
 * The test also holds what nobody in the world holds: the platform's plaintext view of
 * guest memory (`plaintext`, from a machine snapshot, taken between scheduler rounds), so
 * "no wrong data ever reaches the owner" is checked against the hardware's truth.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createWorld, type World, type WorldOptions } from "../../../src/app/world/world.js";
import { AgentV1Driver, SessionError, VmiError, ownerIdentity, type AgentConnectOptions, type OwnerIdentity } from "../../../src/client/index.js";
import type { AdversaryConfig } from "../../../src/host/index.js";
import type { ScenarioRecord } from "../../../src/guest/index.js";
import type { MachineSnapshot } from "../../../src/platform/index.js";

export const PAGE = 4096;

export interface SecWorld {
  readonly world: World;
  /** The machine seed (the same seed is the same chip: the same ASP keys). */
  readonly seed: string;
  readonly owner: OwnerIdentity;
  readonly endpoint: string;
  /** PA of the kernel's _text (stable bytes: a fixed function of the kernel release). */
  readonly textPa: bigint;
  /** Opens an attested owner session (the simulator's ARK passed explicitly). */
  connect(o?: Partial<AgentConnectOptions>): Promise<AgentV1Driver>;
  /** The plaintext of guest memory at [gpa, gpa+len) as the platform holds it (test-only view). */
  plaintext(gpa: bigint, len: number): Uint8Array;
  /** A fresh owner session attests, reads kernel text equal to the platform's plaintext, answers a heartbeat. */
  expectServes(): Promise<void>;
  /** Activates a guest scenario and waits until it has run; returns its record. */
  runScenario(spec: string, timeoutMs?: number): Promise<ScenarioRecord>;
  stop(): Promise<void>;
}

export interface SecWorldOptions extends Omit<WorldOptions, "ownerKey" | "adversary"> {
  /** A switch set; the same object is handed to the host, so a test may end an attack by deleting its switch. */
  readonly adversary?: AdversaryConfig;
}

/** Waits (polling every 5 ms) until `pred` holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(pred: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function plaintextFrom(snap: MachineSnapshot, gpa: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const { pfns, data } = snap.memory;
  for (let off = 0; off < len; ) {
    const a = gpa + BigInt(off);
    const pfn = Number(a >> 12n);
    const inPage = Number(a & 0xfffn);
    const n = Math.min(PAGE - inPage, len - off);
    const i = lowerBound(pfns, pfn);
    if (i < pfns.length && pfns[i] === pfn) out.set(data.subarray(i * PAGE + inPage, i * PAGE + inPage + n), off);
    off += n;
  }
  return out;
}

function lowerBound(a: Uint32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

export async function startSecWorld(name: string, o: SecWorldOptions = {}): Promise<SecWorld> {
  const key = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const owner = ownerIdentity(key.privateKey);
  const seed = `security/${name}`;
  const world = await createWorld({
    memoryBytes: 128n << 20n,
    vcpus: 2,
    processes: 64,
    seed,
    deterministicAgent: true,
    ...o,
    ownerKey: owner.publicKeyDer,
    ...(o.adversary !== undefined ? { adversary: o.adversary } : {}),
  });
  world.start();
  try {
    await waitFor(() => world.guest.booted && world.guest.scenarios.every((s) => s.status !== "pending"), 120_000, "the guest to boot");
    await waitFor(() => world.agent?.introspect.phase === "running", 60_000, "the agent to boot");
  } catch (e) {
    await world.stop();
    throw e;
  }
  const endpoint = `${world.endpoint.host}:${world.endpoint.port}`;
  const textPa = BigInt(world.guest.groundTruth().kernel.textPa);
  const sw: SecWorld = {
    world,
    seed,
    owner,
    endpoint,
    textPa,
    connect: (c = {}) =>
      AgentV1Driver.connectAgent({ endpoint, owner, measurement: world.measurement!, trustRoots: [world.arkPem()!], ...c }),
    plaintext: (gpa, len) => plaintextFrom(world.snapshot(), gpa, len),
    async expectServes() {
      const d = await sw.connect();
      try {
        assert.equal(d.attestation?.report.vmpl, 0);
        const [got] = await d.readPhys([{ gpa: textPa, len: 2 * PAGE }]);
        assert.ok(got instanceof Uint8Array, "the read succeeded");
        assert.deepEqual(got, sw.plaintext(textPa, 2 * PAGE), "the owner reads what the hardware holds");
        await d.heartbeat();
      } finally {
        await d.close();
      }
    },
    async runScenario(spec, timeoutMs = 60_000) {
      const before = world.guest.scenarios.length;
      world.guest.activate(spec);
      await waitFor(() => world.guest.scenarios.length > before && world.guest.scenarios[before]!.status !== "pending", timeoutMs, `scenario ${spec}`);
      return world.guest.scenarios[before]!;
    },
    stop: () => world.stop(),
  };
  return sw;
}

/** The reason code of a failed call inside a session (VmiError DRIVER_* with details.reason), or a SessionError's code. */
export function failureReason(e: unknown): string | undefined {
  if (e instanceof VmiError) return `${e.code}/${String(e.details["reason"])}`;
  if (e instanceof SessionError) return e.code;
  return undefined;
}

/** Asserts that `p` rejects with a SessionError of `code` (and, for ATTESTATION_REJECTED, exactly `codes`). */
export async function rejectsWith(p: Promise<unknown>, code: string, codes?: readonly string[]): Promise<SessionError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SessionError, `expected SessionError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.equal(err.code, code, err.message);
  if (codes !== undefined) assert.deepEqual([...(err.details["codes"] as string[])].sort(), [...codes].sort(), err.message);
  return err;
}
