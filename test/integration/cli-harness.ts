/**
 * Runs the `seven` CLI in this process (main(argv)) with stdout and stderr captured, or as
 * a child process through tsx, for the CLI tests.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { main } from "../../src/app/index.js";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let busy = false;

export async function runCli(args: readonly string[]): Promise<CliRun> {
  if (busy) throw new Error("runCli is not reentrant");
  busy = true;
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  // The CLI writes strings; the test runner's own reports (v8-serialized, to stdout) are
  // buffers and pass through.
  const capture =
    (sink: string[], orig: typeof process.stdout.write) =>
    (s: string | Uint8Array, ...rest: unknown[]): boolean => {
      if (typeof s !== "string") return (orig as (...a: unknown[]) => boolean)(s, ...rest);
      sink.push(s);
      return true;
    };
  process.stdout.write = capture(out, w1) as typeof process.stdout.write;
  process.stderr.write = capture(err, w2) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    const code = await main(["node", "seven", ...args]);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    process.exitCode = undefined;
    busy = false;
  }
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The real command in a child process (node --import tsx src/app/cli/seven.ts). */
export function spawnCli(args: readonly string[], opts: { signalAfterMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "src/app/cli/seven.ts", ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    if (opts.signalAfterMs !== undefined) setTimeout(() => p.kill("SIGINT"), opts.signalAfterMs);
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/linux/", import.meta.url));
export const PROFILE = fileURLToPath(new URL("../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url));
