/**
 * `npm run bench [-- --quick] [--only NAME,...] [--json] [--out DIR] [--cpu-prof DIR] [--list]`
 *
 * Measures, in one run on this machine, the cost of confidentiality: the 00SEVen path
 * against the non-confidential baseline, v1 against the prototype's access pattern, dump
 * throughput against raw loopback TLS, trap round trips against a loopback TCP echo,
 * scaling, and the forensics on real memory images. Writes bench/results/<time>.{md,json}
 * and bench/results/latest.{md,json}; prints the Markdown (or with --json the JSON) on
 * stdout and progress on stderr. See BENCHMARKS.md for what each figure means.
 * Exit status: 0 when every benchmark ran or was skipped, 1 when one failed, 2 on bad usage.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Progress } from "./harness/progress.js";
import { renderJson, renderMarkdown, writeReport } from "./harness/report.js";
import { runBenchmarks, selectBenchmarks } from "./harness/runner.js";
import { BENCHMARKS } from "./registry.js";

const USAGE = `usage: npm run bench -- [--quick] [--only NAME,...] [--json] [--out DIR] [--list]
  --quick        small samples (a smoke run: checks that everything works, figures not quotable)
  --only NAMES   run only these benchmarks (comma-separated; what they are compared with runs too)
  --json         print the JSON report on stdout instead of the Markdown
  --out DIR      where to write the report (default bench/results)
  --cpu-prof DIR write V8 CPU profiles of the world processes into DIR (profile this
                 process too with: node --cpu-prof --import tsx bench/run.ts ...)
  --list         list the benchmarks and exit`;

interface Args {
  quick: boolean;
  only: string[] | null;
  json: boolean;
  out: string;
  list: boolean;
  cpuProf: string | null;
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, only: null, json: false, out: fileURLToPath(new URL("./results/", import.meta.url)), list: false, cpuProf: null };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const [flag, inline] = x.includes("=") ? [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)] : [x, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        a.quick = true;
        break;
      case "--json":
        a.json = true;
        break;
      case "--list":
        a.list = true;
        break;
      case "--only":
        a.only = [...(a.only ?? []), ...value().split(",").map((s) => s.trim()).filter((s) => s !== "")];
        break;
      case "--out":
        a.out = value();
        break;
      case "--cpu-prof":
        a.cpuProf = value();
        break;
      case "-h":
      case "--help":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        usage(`unknown argument ${JSON.stringify(x)}`);
    }
  }
  return a;
}

const argv = process.argv.slice(2);
const args = parseArgs(argv);
if (args.list) {
  for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(14)} ${b.title}${b.needs ? ` (with ${b.needs.join(", ")})` : ""}\n`);
  process.exit(0);
}
const { selected, added, unknown } = selectBenchmarks(BENCHMARKS, args.only);
if (unknown.length > 0) usage(`no benchmark named ${unknown.join(", ")} (known: ${BENCHMARKS.map((b) => b.name).join(", ")})`);
if (args.cpuProf !== null) process.env.SEVEN_BENCH_WORLD_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${resolve(args.cpuProf)}`;
const progress = new Progress();
if (added.length > 0) progress.line(`also running ${added.join(", ")}: the selected benchmarks are compared with them in the same run`);
const report = await runBenchmarks(selected, { quick: args.quick, only: args.only, argv, progress });
const paths = await writeReport(args.out, report);
progress.end();
progress.line(`report: ${paths.md}, ${paths.json} (and latest.md, latest.json)`);
process.stdout.write(args.json ? renderJson(report) : renderMarkdown(report) + "\n");
process.exitCode = report.benchmarks.some((b) => b.status === "error") ? 1 : 0;
