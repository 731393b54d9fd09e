/**
 * Simulated worlds in child processes (world-peer.ts), and sessions to them: the 00SEVen
 * path (attested TLS to the agent through the host's relay), the non-confidential
 * baseline (plain TCP, the host serving from plainAccess()) and the prototype's v0.
 * A world not being measured can be frozen (SIGSTOP) so that it does not compete for the
 * CPU with the one that is; the bench's sessions send no idle heartbeats, so a frozen
 * world is not taken for a dead one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { AgentV1Driver, ownerIdentity, type OwnerIdentity } from "../../src/client/index.js";
import { V0Driver } from "../drivers/v0-driver.js";
import type { WorldPeerOptions, WorldReady } from "./world-peer.js";

const PEER = fileURLToPath(new URL("./world-peer.ts", import.meta.url));

export interface WorldSpec {
  readonly sev: boolean;
  readonly memoryMiB?: number;
  readonly vcpus?: number;
  readonly processes?: number;
  readonly seed?: string;
  readonly legacyV0?: boolean;
}

export interface ProbeResult {
  readonly roundTripsUs: number[];
  readonly npf: number;
  readonly db: number;
}

export interface GuestStatsReply {
  readonly guest: { retired: number; syscalls: number; liveProcesses: number; switches: number };
  readonly counters: Record<string, number>;
}

export interface WorldHandle {
  readonly spec: Required<WorldSpec>;
  readonly ready: WorldReady;
  readonly pid: number;
  readonly endpoint: string;
  stats(): Promise<GuestStatsReply>;
  probeStart(): Promise<void>;
  probeStop(): Promise<ProbeResult>;
  /** SIGSTOP / SIGCONT of the world's process. */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

let owner: OwnerIdentity | undefined;
/** The owner of every SEV world of this run (a fresh P-384 key). */
export function benchOwner(): OwnerIdentity {
  owner ??= ownerIdentity(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, "00SEVen bench owner");
  return owner;
}

/** Extra node flags for the world processes (e.g. --cpu-prof), from SEVEN_BENCH_WORLD_NODE_FLAGS. */
function worldFlags(): string[] {
  const f = process.env.SEVEN_BENCH_WORLD_NODE_FLAGS;
  return f === undefined || f.trim() === "" ? [] : f.trim().split(/\s+/);
}

export function startWorld(s: WorldSpec): Promise<WorldHandle> {
  const spec: Required<WorldSpec> = { memoryMiB: 256, vcpus: 2, processes: 100, seed: "00SEVen-bench", legacyV0: false, ...s };
  const opts: WorldPeerOptions = {
    sev: spec.sev,
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    processes: spec.processes,
    seed: spec.seed,
    legacyV0: spec.legacyV0,
    ...(spec.sev ? { ownerKeyHex: Buffer.from(benchOwner().publicKeyDer).toString("hex") } : {}),
  };
  const child: ChildProcess = spawn(process.execPath, [...worldFlags(), "--import", "tsx", PEER, JSON.stringify(opts)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let nextId = 1;
  const pending = new Map<number, (r: unknown) => void>();
  const call = <T>(op: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (r) => resolve(r as T));
      child.send({ id, op }, (e) => e && reject(e));
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail("not booted within 10 minutes"), 600_000);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`world (${spec.sev ? "SEV-SNP" : "plain"}, ${spec.memoryMiB} MiB, ${spec.processes} processes): ${why}`));
    };
    child.once("exit", (code, sig) => fail(`exited (${code ?? sig})`));
    child.once("error", (e) => fail(e.message));
    child.on("message", (m: { ready?: WorldReady; id?: number; result?: unknown }) => {
      if (m.id !== undefined) {
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
        return;
      }
      if (m.ready === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      const ready = m.ready;
      resolve({
        spec,
        ready,
        pid: child.pid!,
        endpoint: `${ready.host}:${ready.port}`,
        stats: () => call<GuestStatsReply>("stats"),
        probeStart: async () => void (await call("probe-start")),
        probeStop: () => call<ProbeResult>("probe-stop"),
        freeze: () => void child.kill("SIGSTOP"),
        thaw: () => void child.kill("SIGCONT"),
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.kill("SIGCONT");
            const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.once("exit", () => {
              clearTimeout(kill);
              done();
            });
            child.disconnect();
          }),
      });
    });
  });
}

const SESSION = { heartbeatMs: 0, timeoutMs: 300_000 } as const;

/** An attested v1 session to the agent (the 00SEVen path). */
export function connectSecure(w: WorldHandle): Promise<AgentV1Driver> {
  if (w.ready.measurementHex === null || w.ready.arkPem === null) throw new Error("not a SEV world");
  return AgentV1Driver.connectAgent({
    endpoint: w.endpoint,
    owner: benchOwner(),
    measurement: new Uint8Array(Buffer.from(w.ready.measurementHex, "hex")),
    trustRoots: [w.ready.arkPem],
    ...SESSION,
  });
}

/** A v1 session over plain TCP to the host (the non-confidential baseline). */
export function connectPlain(w: WorldHandle): Promise<AgentV1Driver> {
  return AgentV1Driver.connectBaseline({ endpoint: w.endpoint, ...SESSION });
}

/** A v0 session to the agent (the prototype's protocol; the world must allow it). */
export function connectV0(w: WorldHandle): Promise<V0Driver> {
  return V0Driver.connect(w.ready.host, w.ready.port, w.spec.vcpus);
}
