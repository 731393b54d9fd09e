/**
 * `seven host`: runs a simulated CVM — the untrusted host with its VMPL0 NIC on a TCP port,
 * the agent at VMPL0 and the Linux guest at VMPL1 — until SIGINT/SIGTERM. Writes into the
 * state directory the simulated AMD root (ark.pem), the owner key pair it generated when
 * none was given, and target.json; prints `endpoint: HOST:PORT` first.
 */
import type { Command } from "commander";
import { join } from "node:path";
import { toHex } from "../../../shared/base/index.js";
import { ADVERSARY_SWITCHES, activeAdversaries, parseAdversaries } from "../../../host/index.js";
import type { HostEvent, StopReason } from "../../../host/index.js";
import { scenarioNames } from "../../../guest/index.js";
import { WorldError, asWorldError } from "../../world/errors.js";
import { parseListen, parseMemory, parseVcpus, readOwnerKey } from "../../world/options.js";
import { ARK_FILE, TARGET_FORMAT, ensureDir, ownerKeyPair, writeAtomic, writeTarget } from "../../world/state-dir.js";
import type { TargetJson } from "../../world/state-dir.js";
import { DEFAULT_LISTEN, DEFAULT_MEMORY, DEFAULT_SEED, DEFAULT_STATE_DIR, DEFAULT_VCPUS } from "../../world/world-defaults.js";
import { createWorld } from "../../world/world.js";
import type { World } from "../../world/world.js";

interface HostOpts {
  stateDir: string;
  listen: string;
  vcpus: string;
  memory: string;
  seed: string;
  kaslr: boolean;
  ownerKey?: string;
  legacyV0?: boolean;
  rootkit: string[];
  adversary: string[];
  sev: boolean;
  groundTruth?: string;
  processes?: string;
  verbose?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command): void {
  program
    .command("host")
    .description("run a simulated SEV-SNP CVM (untrusted host + VMPL0 agent + Linux guest) until SIGINT/SIGTERM")
    .option("--state-dir <dir>", "where target.json, ark.pem and a generated owner key go", DEFAULT_STATE_DIR)
    .option("--listen <host:port>", "TCP endpoint of the agent's NIC (port 0: any free port)", DEFAULT_LISTEN)
    .option("--vcpus <n>", "number of vCPUs", String(DEFAULT_VCPUS))
    .option("--memory <size>", "guest memory (e.g. 256M, 1G)", DEFAULT_MEMORY)
    .option("--seed <n>", "seed of the simulated world (KASLR slide, workload, keys of the machine)", DEFAULT_SEED)
    .option("--kaslr", "randomise the kernel's placement (default)", true)
    .option("--no-kaslr", "place the kernel as with nokaslr")
    .option("--owner-key <file.pub>", "the owner's public key (PEM/DER, ECDSA P-384 or P-256); default: generate a pair in the state dir")
    .option("--legacy-v0", "allow the prototype's v0 protocol (measured into the agent's configuration)")
    .option("--rootkit <name[=arg]>", `rootkit or attack scenario in the guest, repeatable (${scenarioNames().join(", ")})`, collect, [])
    .option("--adversary <name[=arg]>", `hostile host behaviour, repeatable (${Object.keys(ADVERSARY_SWITCHES).join(", ")})`, collect, [])
    .option("--no-sev", "non-confidential baseline: no SEV, no agent; the host serves VMI over plain TCP")
    .option("--ground-truth <file>", "write the guest's ground truth here whenever all vCPUs are paused, and at exit")
    .option("--processes <n>", "processes in the guest at boot")
    .option("--verbose", "print the host's events (adversary actions, faults) on stderr")
    .action(async (o: HostOpts) => {
      let world: World;
      let generated: ReturnType<typeof ownerKeyPair> | undefined;
      // Listen for the signals first: one that arrives during startup (or right after the
      // endpoint line) still ends in a clean stop.
      const stopSignal = signal();
      try {
        const vcpus = parseVcpus(o.vcpus);
        const memoryBytes = parseMemory(o.memory, vcpus);
        const listen = parseListen(o.listen);
        const adversary = parseAdversaries(o.adversary);
        const processes = o.processes === undefined ? undefined : parseProcesses(o.processes);
        const dir = ensureDir(o.stateDir);
        let ownerKey: Uint8Array | undefined;
        if (o.sev) {
          if (o.ownerKey !== undefined) ownerKey = readOwnerKey(o.ownerKey);
          else {
            generated = ownerKeyPair(dir);
            ownerKey = generated.spki;
          }
        }
        let stopReason: ((r: StopReason) => void) | undefined;
        const ended = new Promise<StopReason>((r) => (stopReason = r));
        world = await createWorld({
          memoryBytes,
          vcpus,
          seed: o.seed,
          kaslr: o.kaslr,
          sev: o.sev,
          listen,
          adversary,
          rootkits: o.rootkit,
          legacyV0: o.legacyV0 === true,
          ...(ownerKey !== undefined ? { ownerKey } : {}),
          ...(processes !== undefined ? { processes } : {}),
          ...(o.groundTruth !== undefined ? { groundTruthFile: o.groundTruth } : {}),
          ...(o.verbose === true ? { hostLog: printEvent } : {}),
          // Interactive: VMPL1 slices of about 2 ms of host CPU, so the agent (and the network) stay responsive.
          scheduler: { sliceMs: 2, guestBudget: 50_000 },
          onStop: (r) => stopReason?.(r),
        });
        const endpoint = `${world.endpoint.host.includes(":") ? `[${world.endpoint.host}]` : world.endpoint.host}:${world.endpoint.port}`;
        let trustRoot: string | null = null;
        const ark = world.arkPem();
        if (ark !== undefined) {
          trustRoot = join(dir, ARK_FILE);
          writeAtomic(trustRoot, ark);
        }
        const target: TargetJson = {
          format: TARGET_FORMAT,
          endpoint,
          mode: world.mode,
          measurement: world.measurement !== undefined ? toHex(world.measurement) : null,
          trustRoot,
          product: world.product ?? null,
          policy: world.policy !== undefined ? `0x${world.policy.toString(16)}` : null,
          hostData: world.hostData !== undefined ? toHex(world.hostData) : null,
          vcpus,
          memoryBytes: memoryBytes.toString(),
          legacyV0: o.legacyV0 === true,
          ownerKey:
            generated !== undefined
              ? { publicKey: generated.publicKey, privateKey: generated.privateKey, generated: true }
              : o.ownerKey !== undefined && o.sev
                ? { publicKey: o.ownerKey, generated: false }
                : null,
          groundTruth: o.groundTruth ?? null,
        };
        const targetPath = writeTarget(dir, target);
        world.start();
        const out = [
          `endpoint: ${endpoint}`,
          `mode: ${world.mode} (${vcpus} vCPUs, ${memoryBytes >> 20n} MiB${world.product !== undefined ? `, ${world.product}` : ""})`,
          ...(target.measurement !== null ? [`measurement: ${target.measurement}`] : []),
          `target: ${targetPath}`,
          ...(activeAdversaries(adversary).length > 0 ? [`adversary: ${activeAdversaries(adversary).join(", ")}`] : []),
        ];
        process.stdout.write(out.join("\n") + "\n");
        const reason = await Promise.race([stopSignal.promise, ended]);
        await world.stop();
        if (reason.kind === "error") {
          process.stderr.write(`seven host: the simulation stopped: ${reason.error instanceof Error ? reason.error.message : String(reason.error)}\n`);
          process.exitCode = 1;
        } else {
          process.stderr.write(`seven host: stopped (${reason.kind === "terminate" ? "the VM asked to terminate" : "signal"})\n`);
          process.exitCode = 0;
        }
      } catch (e) {
        throw asWorldError(e);
      } finally {
        stopSignal.dispose();
      }
    });
}

function parseProcesses(s: string): number {
  if (!/^\d+$/.test(s)) throw new WorldError("BAD_OPTION", `bad process count "${s}"`, { value: s });
  return Number(s);
}

function signal(): { promise: Promise<StopReason>; dispose: () => void } {
  let on: () => void = () => undefined;
  const promise = new Promise<StopReason>((resolve) => {
    on = (): void => {
      dispose();
      resolve({ kind: "stopped" });
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  const dispose = (): void => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
  return { promise, dispose };
}

function printEvent(e: HostEvent): void {
  process.stderr.write(`host: ${e.kind}: ${e.message}\n`);
}
