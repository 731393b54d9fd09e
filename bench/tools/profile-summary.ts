/**
 * Summarises V8 CPU profiles (node --cpu-prof): self time by function and by module, and
 * inclusive time of the functions that matter, so "where does the time go" has an answer
 * without a profiler UI.
 *   node --import tsx bench/tools/profile-summary.ts FILE.cpuprofile [--top N] [--under PATTERN]
 * --under restricts the totals to samples whose stack contains a function matching PATTERN;
 * --callers PATTERN lists the call paths (3 frames up) of the functions matching PATTERN.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly selfByFunction: readonly { name: string; ms: number; share: number }[];
  readonly selfByModule: readonly { name: string; ms: number; share: number }[];
  readonly inclusiveByFunction: readonly { name: string; ms: number; share: number }[];
}

const ROOT = process.cwd();

function moduleOf(url: string): string {
  if (url === "") return "(native / V8)";
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith("node:")) return path;
  const rel = relative(ROOT, path);
  const nm = rel.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = rel.slice(nm + 13).split("/");
    return `npm:${rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return rel.startsWith("..") ? path : rel;
}

function fnName(f: CallFrame): string {
  const n = f.functionName === "" ? "(anonymous)" : f.functionName;
  return `${n} ${moduleOf(f.url)}:${f.lineNumber + 1}`;
}

/** Self time of the functions matching `pattern`, by their callers (up to `depth` frames). */
export function callersOf(p: CpuProfile, pattern: RegExp, depth = 3, top = 15): { path: string; ms: number }[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    const leaf = byId.get(id)!.callFrame;
    if (!pattern.test(leaf.functionName)) continue;
    const path: string[] = [];
    for (let x = parent.get(id), k = 0; x !== undefined && k < depth; x = parent.get(x), k++) path.push(fnName(byId.get(x)!.callFrame));
    const key = `${leaf.functionName} ← ${path.join(" ← ")}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return [...out].sort((a, b) => b[1] - a[1]).slice(0, top).map(([path, us]) => ({ path, ms: us / 1000 }));
}

export function summarizeProfile(p: CpuProfile, top = 25, under?: RegExp): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const selfF = new Map<string, number>();
  const selfM = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const stack: CallFrame[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) stack.push(byId.get(x)!.callFrame);
    if (under !== undefined && !stack.some((f) => under.test(f.functionName) || under.test(f.url))) continue;
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === "(idle)" || leaf.functionName === "(program)" || leaf.functionName === "(garbage collector)") {
      selfF.set(leaf.functionName, (selfF.get(leaf.functionName) ?? 0) + us);
      selfM.set(leaf.functionName, (selfM.get(leaf.functionName) ?? 0) + us);
      total += us;
      continue;
    }
    total += us;
    selfF.set(fnName(leaf), (selfF.get(fnName(leaf)) ?? 0) + us);
    selfM.set(moduleOf(leaf.url), (selfM.get(moduleOf(leaf.url)) ?? 0) + us);
    for (const name of new Set(stack.map(fnName))) incl.set(name, (incl.get(name) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000, share: total === 0 ? 0 : us / total }));
  return { totalMs: total / 1000, selfByFunction: rank(selfF), selfByModule: rank(selfM), inclusiveByFunction: rank(incl) };
}

function print(title: string, rows: ProfileSummary["selfByFunction"]): void {
  console.log(`\n${title}`);
  for (const r of rows) console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  if (file === undefined) {
    console.error("usage: profile-summary.ts FILE.cpuprofile [--top N] [--under PATTERN]");
    process.exit(2);
  }
  const callersAt = args.indexOf("--callers");
  if (callersAt >= 0) {
    const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    for (const c of callersOf(prof, new RegExp(args[callersAt + 1]!))) console.log(`${c.ms.toFixed(0).padStart(7)} ms  ${c.path}`);
    process.exit(0);
  }
  const topAt = args.indexOf("--top");
  const underAt = args.indexOf("--under");
  const s = summarizeProfile(
    JSON.parse(readFileSync(file, "utf8")) as CpuProfile,
    topAt >= 0 ? Number(args[topAt + 1]) : 25,
    underAt >= 0 ? new RegExp(args[underAt + 1]!) : undefined,
  );
  console.log(`${file}: ${s.totalMs.toFixed(0)} ms sampled`);
  print("self time by module", s.selfByModule);
  print("self time by function", s.selfByFunction);
  print("inclusive time by function", s.inclusiveByFunction);
}
