/**
 * The simulated world, wired: an SEV-SNP machine (src/platform), the Linux guest at VMPL1
 * (src/guest), the agent at VMPL0 (src/agent), launched and scheduled by the untrusted
 * host (src/host), whose NIC listens on a real TCP port. With `sev: false` the same guest
 * runs on an ordinary VM, without agent, and the host side serves the agent's VMI service
 * itself over plain TCP from `plainAccess()` — the KVMi-style baseline.
 *
 * Order: validate everything cheap (adversaries, rootkits, sizes), build the machine and
 * the programs, create the host and open its listener (a busy port fails before the
 * launch), launch, then `start()` schedules.
 */
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { readFileSync } from "node:fs";
import type { Clock } from "../../shared/base/index.js";
import { SeededRng, systemClock } from "../../shared/base/index.js";
import { GUEST_POLICY_DEFAULT, computeLayout } from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { loadIsfProfile } from "../../shared/kernel/index.js";
import type { Profile } from "../../shared/kernel/index.js";
import { createMachine } from "../../platform/index.js";
import type { Machine, MachineSnapshot, Product } from "../../platform/index.js";
import { bootPlain, createHost, launchCvm, parseAdversaries } from "../../host/index.js";
import type { AdversaryConfig, Host, HostEventSink, HostOptions, StopReason } from "../../host/index.js";
import { createGuest, writeGroundTruth } from "../../guest/index.js";
import type { GuestKernel } from "../../guest/index.js";
import { createAgent, createPlainBackend, createPlainService } from "../../agent/index.js";
import type { Agent } from "../../agent/index.js";
import { WorldError, asWorldError } from "./errors.js";
import { launchInputsFor } from "./launch-inputs.js";

export interface WorldOptions {
  readonly memoryBytes?: bigint;
  readonly vcpus?: number;
  readonly seed?: string | number | bigint;
  readonly kaslr?: boolean;
  /** Processes in the guest at boot (guest default 100). */
  readonly processes?: number;
  /** Run the guest's workload (default true). */
  readonly workload?: boolean;
  /** The owner's public key (SPKI DER), measured into the agent's configuration. */
  readonly ownerKey?: Uint8Array;
  readonly legacyV0?: boolean;
  readonly rootkits?: readonly string[];
  /** Parsed switches, or `--adversary` strings. */
  readonly adversary?: AdversaryConfig | readonly string[];
  /** False: the non-confidential baseline (default true). */
  readonly sev?: boolean;
  /** Where the agent's NIC (or the baseline server) listens; default 127.0.0.1:0. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Written whenever every VMPL1 vCPU is paused, and at stop. */
  readonly groundTruthFile?: string;
  readonly clock?: Clock;
  readonly product?: Product;
  /** Seed the agent's entropy from `seed` (tests); default: the OS's randomness. */
  readonly deterministicAgent?: boolean;
  readonly scheduler?: HostOptions["scheduler"];
  readonly hostLog?: HostEventSink;
  /** The kernel profile (default: profiles/debian-6.1.0-56-amd64.isf.json.gz). */
  readonly profile?: Profile;
  /** The world ended by itself (the VM asked to terminate, or a round failed). */
  readonly onStop?: (reason: StopReason) => void;
}

export interface World {
  readonly mode: "sev-snp" | "plain";
  readonly layout: SevenLayout;
  readonly machine: Machine;
  readonly host: Host;
  readonly guest: GuestKernel;
  /** Undefined in plain mode. */
  readonly agent: Agent | undefined;
  /** The ASP's launch digest (SEV mode). */
  readonly measurement: Uint8Array | undefined;
  readonly policy: bigint | undefined;
  readonly hostData: Uint8Array | undefined;
  readonly product: Product | undefined;
  /** The simulated ARK (PEM), a trust root the owner must opt into (SEV mode). */
  arkPem(): string | undefined;
  /** The agent's NIC or the baseline server. */
  readonly endpoint: { readonly host: string; readonly port: number };
  /** Starts scheduling. */
  start(): void;
  /** Stops scheduling, closes the listener and its connections, writes the ground truth. */
  stop(): Promise<void>;
  /** Writes the ground truth now (if a file was given); returns whether it did. */
  writeGroundTruth(): boolean;
  /**
   * Passthrough to the machine (memory, RMP, ASP) — only between rounds. The programs' and
   * the host's own state (guest model bookkeeping, agent sessions, NIC connections) are not
   * part of it: restore into a world that has not run since, or expect them to disagree.
   */
  snapshot(): MachineSnapshot;
  restore(s: MachineSnapshot): void;
}

export const DEFAULT_PROFILE_PATH = new URL("../../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url);
let cachedProfile: Profile | undefined;

/** The committed Debian 6.1 profile (loaded once per process). */
export function defaultProfile(): Profile {
  cachedProfile ??= loadIsfProfile(new Uint8Array(readFileSync(DEFAULT_PROFILE_PATH)));
  return cachedProfile;
}

export async function createWorld(o: WorldOptions = {}): Promise<World> {
  try {
    return await build(o);
  } catch (e) {
    throw asWorldError(e);
  }
}

async function build(o: WorldOptions): Promise<World> {
  const sev = o.sev ?? true;
  const memoryBytes = o.memoryBytes ?? 256n << 20n;
  const vcpus = o.vcpus ?? 2;
  const seed = o.seed ?? "00SEVen";
  const clock = o.clock ?? systemClock;
  const layout = computeLayout({ memoryBytes, vcpus });
  const adversary: AdversaryConfig = isSwitchList(o.adversary) ? parseAdversaries(o.adversary) : (o.adversary ?? {});
  if (!sev && (adversary.tamper ?? adversary.replay ?? adversary.drop ?? adversary.reorder ?? adversary.delay ?? adversary.swapReport) !== undefined) {
    throw new WorldError("BAD_OPTION", "relay and report adversaries need the agent (they act on the NIC and guest requests): not with --no-sev");
  }
  const guest = createGuest({
    seed,
    layout,
    profile: o.profile ?? defaultProfile(),
    kaslr: o.kaslr ?? true,
    ...(o.processes !== undefined ? { processes: o.processes } : {}),
    ...(o.workload !== undefined ? { workload: o.workload } : {}),
    rootkits: o.rootkits ?? [],
  });
  const inputs = launchInputsFor({ memoryBytes, vcpus, legacyV0: o.legacyV0 ?? false, ...(o.ownerKey !== undefined ? { ownerKey: o.ownerKey } : {}) });
  const machine = createMachine({ memoryBytes, vcpus, seed, clock, sev, ...(o.product !== undefined ? { product: o.product } : {}) });
  const hv = machine.hypervisor;
  const agent = sev ? createAgent(o.deterministicAgent === true ? { entropy: new SeededRng(seed).fork("world/agent-entropy") } : {}) : undefined;
  if (agent !== undefined) machine.installProgram(0, agent.program);
  machine.installProgram(1, guest);

  let worldRef: World | undefined;
  const host = createHost({
    hypervisor: hv,
    layout,
    clock,
    seed,
    agent: sev,
    adversary,
    knownPlaintext: inputs.agentImage.subarray(0, 32),
    ...(o.scheduler !== undefined ? { scheduler: o.scheduler } : {}),
    ...(o.hostLog !== undefined ? { log: o.hostLog } : {}),
    onAllPaused: () => worldRef?.writeGroundTruth(),
    ...(o.onStop !== undefined ? { onStop: o.onStop } : {}),
  });
  const listen = o.listen ?? { host: "127.0.0.1", port: 0 };
  let baseline: Baseline | undefined;
  let endpoint: { host: string; port: number };
  if (sev) {
    endpoint = await host.listen(listen.host, listen.port);
  } else {
    baseline = await serveBaseline(host, layout, hv.cBit, listen);
    endpoint = baseline.endpoint;
  }

  let measurement: Uint8Array | undefined;
  let policy: bigint | undefined;
  let hostData: Uint8Array | undefined;
  try {
    if (sev) {
      const r = launchCvm(hv, inputs, { policy: GUEST_POLICY_DEFAULT });
      measurement = r.measurement;
      policy = r.policy;
      hostData = r.hostData;
    } else {
      bootPlain(hv, inputs);
    }
  } catch (e) {
    await host.stop();
    await baseline?.close();
    throw e;
  }

  let stopped = false;
  const world: World = {
    mode: sev ? "sev-snp" : "plain",
    layout,
    machine,
    host,
    guest,
    agent,
    measurement,
    policy,
    hostData,
    product: sev ? (o.product ?? "milan") : undefined,
    arkPem: () => (sev ? hv.asp.certificates().arkPem : undefined),
    endpoint,
    start: () => {
      if (stopped) throw new WorldError("BAD_STATE", "the world has been stopped", {}, 1);
      host.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await host.stop();
      await baseline?.close();
      world.writeGroundTruth();
    },
    writeGroundTruth() {
      if (o.groundTruthFile === undefined || !guest.booted) return false;
      writeGroundTruth(o.groundTruthFile, guest.groundTruth());
      return true;
    },
    snapshot: () => machine.snapshot(),
    restore: (s) => machine.restore(s),
  };
  worldRef = world;
  return world;
}

function isSwitchList(a: WorldOptions["adversary"]): a is readonly string[] {
  return Array.isArray(a);
}

interface Baseline {
  readonly endpoint: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * The non-confidential baseline: the agent's VMI service run by the host over
 * plainAccess(), one v1 session per plain TCP connection; pause = the host not scheduling.
 */
async function serveBaseline(host: Host, layout: SevenLayout, cBit: number, listen: { host: string; port: number }): Promise<Baseline> {
  const backend = createPlainBackend(host.hypervisor.plainAccess(), {
    layout,
    cBit,
    control: { setRunnable: (vcpu, runnable) => host.setGuestRunnable(vcpu, runnable) },
  });
  const service = createPlainService(backend);
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on("close", () => sockets.delete(s));
    service.serve(s);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why = e.code === "EADDRINUSE" ? "address already in use" : e.message;
      reject(new WorldError("LISTEN_FAILED", `cannot listen on ${listen.host}:${listen.port}: ${why}`, { errno: e.code }, 1, { cause: e }));
    };
    server.once("error", onError);
    server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const a = server.address();
  const endpoint = a !== null && typeof a === "object" ? { host: a.address, port: a.port } : { host: listen.host, port: listen.port };
  return {
    endpoint,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
