/**
 * The machine a run happened on: CPU model and cores, memory, Node and V8, the load
 * average at the start and at the end (the machine may be shared: a load near or above
 * the core count means the absolute figures are noisy, the ratios less so), and the
 * commit measured.
 */
import { execFileSync } from "node:child_process";
import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem } from "node:os";

export interface MachineRecord {
  readonly cpuModel: string;
  readonly cores: number;
  readonly cpuMHz: number | null;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly platform: string;
  readonly arch: string;
  readonly kernel: string;
  readonly hostname: string;
  readonly node: string;
  readonly v8: string;
  readonly openssl: string;
  readonly commit: string | null;
  /** Uncommitted changes in the tree at the start (the figures then include them). */
  readonly dirty: boolean | null;
  /** 1, 5 and 15 minute load averages. */
  readonly loadStart: readonly number[];
  loadEnd: readonly number[];
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function recordMachine(): MachineRecord {
  const c = cpus();
  const commit = git(["rev-parse", "--short=12", "HEAD"]);
  const status = git(["status", "--porcelain", "--untracked-files=no"]);
  return {
    cpuModel: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    cpuMHz: c[0]?.speed ? c[0].speed : null,
    memoryGiB: round2(totalmem() / 2 ** 30),
    freeMemoryGiB: round2(freemem() / 2 ** 30),
    platform: platform(),
    arch: arch(),
    kernel: release(),
    hostname: hostname(),
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? "unknown",
    commit,
    dirty: status === null ? null : status.length > 0,
    loadStart: loadavg().map(round2),
    loadEnd: [],
  };
}

export function finishMachineRecord(m: MachineRecord): void {
  m.loadEnd = loadavg().map(round2);
}
