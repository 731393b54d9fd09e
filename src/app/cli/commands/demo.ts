/**
 * `seven demo`: the whole story in one process, in well under a minute. Boots a simulated
 * SEV-SNP CVM (untrusted host, Linux guest at VMPL1 with a rootkit, the agent at VMPL0 on a
 * loopback port, a fresh owner key), then, as the owner would: attests the agent, pauses
 * the guest, lists processes and modules, runs the integrity checks (which find the
 * rootkit), sets a function trap on a syscall handler and shows a few events, dumps memory
 * and reads the dump back with the image driver. One line of explanation per step.
 * The owner's side uses only the client library over TCP — the same code as the other
 * commands; the world is only started here.
 */
import type { Command } from "commander";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../shared/base/index.js";
import { loadIsfProfileFile } from "../../../shared/kernel/index.js";
import { scenarioNames } from "../../../guest/index.js";
import {
  AgentV1Driver,
  Vmi,
  dumpMemory,
  kva,
  lsmod,
  openImage,
  openLinux,
  ownerIdentity,
  ps,
  renderTable,
  runChecks,
  runPlugin,
  type Finding,
  type TrapEvent,
} from "../../../client/index.js";
import { createWorld, type World } from "../../world/world.js";
import { CliUsageError } from "../errors.js";
import { CommandFailure } from "../owner/exit.js";
import { hex, jsonText, mib, out } from "../owner/print.js";
import { DEFAULT_PROFILE } from "../owner/target.js";
import { watchTrap } from "./watch.js";

interface DemoOpts {
  rootkit: string;
  syscall: string;
  events: string;
  keep?: boolean;
  json?: boolean;
  seed: string;
}

const TRAP_SYMBOL_PREFIX = "__x64_sys_";

export function register(program: Command): void {
  program
    .command("demo")
    .description("boot a simulated CVM with a rootkit in-process, attest it, inspect it, find the rootkit, trap a syscall, dump memory")
    .option("--rootkit <name>", `rootkit scenario in the guest, or "none" (${scenarioNames().filter((n) => !n.startsWith("attack-")).join(", ")})`, "hook-syscall")
    .option("--syscall <name>", "system call whose handler gets the function trap", "getpid")
    .option("--events <n>", "trap events to show", "3")
    .option("--seed <s>", "seed of the simulated world", "00SEVen")
    .option("--keep", "keep the memory dump (its path is printed)")
    .option("--json", "a machine summary instead of the narration")
    .action(async (o: DemoOpts) => {
      const events = Number(o.events);
      if (!Number.isInteger(events) || events < 1 || events > 1000) throw new CliUsageError(`demo: --events must be 1..1000, not ${JSON.stringify(o.events)}`);
      if (o.rootkit !== "none" && !scenarioNames().includes(o.rootkit)) throw new CliUsageError(`demo: unknown rootkit ${JSON.stringify(o.rootkit)} (known: ${scenarioNames().join(", ")}, none)`);
      const summary = await runDemo(o, events);
      if (o.json) out(jsonText(summary));
      if (!summary["ok"]) throw new CommandFailure(String(summary["failure"]));
    });
}

async function runDemo(o: DemoOpts, nEvents: number): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const say = (step: string, line: string): void => {
    if (!o.json) out(`${step.padEnd(7)} ${line}`);
  };
  const show = (text: string): void => {
    if (!o.json) out(text.replace(/\n$/, "").replace(/^/gm, "        "));
  };
  const secs = (t: number): string => `${((performance.now() - t) / 1000).toFixed(1)} s`;
  const summary: Record<string, unknown> = { ok: false, rootkit: o.rootkit };
  const dir = await mkdtemp(join(tmpdir(), "seven-demo-"));
  let world: World | undefined;
  let agent: AgentV1Driver | undefined;
  try {
    // 1. The world: host, guest with a rootkit, agent; a fresh owner key measured into the agent's configuration.
    let t = performance.now();
    const key = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const owner = ownerIdentity(key.privateKey);
    world = await createWorld({ ownerKey: owner.publicKeyDer, rootkits: o.rootkit === "none" ? [] : [o.rootkit], seed: o.seed });
    world.start();
    await rootkitSettled(world);
    const ep = `${world.endpoint.host}:${world.endpoint.port}`;
    say("boot", `simulated SEV-SNP CVM up in ${secs(t)}: untrusted host, Linux guest at VMPL1 (rootkit: ${o.rootkit}), VMPL0 agent listening on ${ep}`);
    summary["boot"] = { endpoint: ep, measurement: toHex(world.measurement!), ms: performance.now() - t };

    // 2. Attestation: the only thing the owner trusts is the report, bound to this TLS session.
    t = performance.now();
    agent = await AgentV1Driver.connectAgent({ endpoint: ep, owner, measurement: world.measurement!, trustRoots: [world.arkPem()!] });
    const a = agent.attestation!;
    say("attest", `VMPL0 report for our fresh nonce, bound to this TLS session's exporter, measurement ${toHex(a.report.measurement).slice(0, 16)}… as expected, chain to the simulated ARK (trusted only because we passed it): OK in ${secs(t)}`);
    summary["attest"] = { ok: true, ms: a.ms, product: a.product, reportData: toHex(a.reportData), checks: a.checks.length };

    // 3. Pause and find the kernel.
    t = performance.now();
    const vmi = await Vmi.open(agent);
    const paused = await agent.pauseVcpus();
    await vmi.pause();
    const profile = await loadIsfProfileFile(DEFAULT_PROFILE);
    const k = await openLinux(vmi, profile, { requirements: [...ps.requirements, ...lsmod.requirements] });
    say("pause", `secure pause: the agent cleared the VMSA bit of vCPUs ${paused.stopped.join(", ")}; kernel found in memory (KASLR slide ${hex(k.virtSlide)}, page tables at ${hex(k.location.dtb)}) in ${secs(t)}`);

    // 4. Processes and modules.
    t = performance.now();
    const procs = await runPlugin(ps, k, {});
    say("ps", `${procs.rows.length} processes, read through the agent in ${secs(t)} (first 6):`);
    show(renderTable({ columns: procs.columns, rows: procs.rows.slice(0, 6) }));
    t = performance.now();
    const mods = await runPlugin(lsmod, k, {});
    say("lsmod", `${mods.rows.length} modules in ${secs(t)}: ${mods.rows.map((r) => String(r["name"])).join(", ")}`);
    summary["ps"] = { processes: procs.rows.length, ms: procs.ms };
    summary["lsmod"] = { modules: mods.rows.map((r) => r["name"]), ms: mods.ms };

    // 5. Integrity checks.
    t = performance.now();
    const rep = await runChecks(k);
    const byCheck = new Map<string, Finding[]>();
    for (const f of rep.findings) byCheck.set(f.check, [...(byCheck.get(f.check) ?? []), f]);
    say("check", `${rep.checks.length} integrity checks in ${secs(t)}: ${rep.findings.length === 0 ? "nothing found" : [...byCheck].map(([c, fs]) => `${c} ${fs.length}`).join(", ")}`);
    const shown = [...rep.findings].sort((x, y) => rank(x) - rank(y)).slice(0, 5);
    for (const f of shown) show(`${f.severity.padEnd(6)} ${f.check}: ${f.object} — ${f.detail}`);
    if (rep.findings.length > shown.length) show(`… and ${rep.findings.length - shown.length} more (seven check lists them all)`);
    const rootkitFound = o.rootkit === "none" ? rep.findings.length === 0 : rep.findings.some((f) => f.severity === "high");
    summary["check"] = {
      findings: rep.findings.length,
      byCheck: Object.fromEntries([...byCheck].map(([c, fs]) => [c, fs.length])),
      statuses: rep.checks.map((c) => ({ check: c.check, status: c.status, findings: c.findings })),
      ms: rep.ms,
    };

    // 6. A function trap on a syscall handler: events with the vCPU's registers.
    t = performance.now();
    const sym = TRAP_SYMBOL_PREFIX + o.syscall;
    const va = k.symbol(sym);
    const gpa = await vmi.translate(kva(va));
    await vmi.resume();
    await agent.resumeVcpus();
    const seen: TrapEvent[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 20_000);
    try {
      await watchTrap(agent, { gpa, access: "x", rips: [va], va, dtb: k.location.dtb }, { count: nEvents, signal: ac.signal, onEvent: (e) => seen.push(e) });
    } finally {
      clearTimeout(timer);
    }
    say("trap", `guest resumed; function trap on ${sym} (${hex(va)}, gpa ${hex(gpa)}): ${seen.length} events as the workload calls it, in ${secs(t)}`);
    for (const [i, e] of seen.entries()) show(`#${i + 1} vcpu ${e.vcpu}  rip ${hex(e.regs.rip)} (${k.symbolName(e.regs.rip) ?? "?"})  cr3 ${hex(e.regs.cr3)}  (process page tables)  rsp ${hex(e.regs.rsp)}`);
    summary["trap"] = { symbol: sym, va, gpa, events: seen.map((e) => ({ vcpu: e.vcpu, rip: e.regs.rip, cr3: e.regs.cr3 })), ms: performance.now() - t };

    // 7. Dump memory (paused, for a consistent image), then read it back with the image driver.
    t = performance.now();
    await agent.pauseVcpus();
    const file = join(dir, "demo.lime");
    const d = await dumpMemory(agent, { out: file, format: "lime", source: `demo:${ep}`, exclude: [agent.agentRegion] });
    const mbps = Number(d.dataBytes) / 1e6 / (d.ms / 1000);
    const img = await openImage(file);
    let imageProcs: number;
    try {
      const ik = await openLinux(await Vmi.open(img), profile, { requirements: ps.requirements });
      const again = await runPlugin(ps, ik, {});
      imageProcs = again.rows.length;
      const same = JSON.stringify(again.rows, big) === JSON.stringify((await runPlugin(ps, k, {})).rows, big);
      say("dump", `${mib(d.dataBytes)} (all guest RAM outside the agent's region) → ${o.keep ? file : "a temporary LiME file"} at ${mbps.toFixed(0)} MB/s; the image driver reads it back: ps lists ${imageProcs} processes, ${same ? "identical to the live guest at the time of the dump" : "DIFFERENT from the live guest"}`);
      summary["dump"] = { file: o.keep ? file : null, bytes: d.dataBytes, ms: d.ms, mbPerSecond: mbps, imageProcesses: imageProcs, identical: same };
    } finally {
      await img.close();
    }
    await agent.resumeVcpus();

    const total = performance.now() - t0;
    const ok = rootkitFound && seen.length === nEvents;
    say("done", `${ok ? "all steps done" : "done, but something was missing"} in ${(total / 1000).toFixed(1)} s${o.rootkit === "none" ? "" : rootkitFound ? `; the checks found the ${o.rootkit} rootkit` : `; the checks did NOT find the ${o.rootkit} rootkit`}`);
    summary["ok"] = ok;
    if (!ok) summary["failure"] = !rootkitFound ? `demo: the checks did not find the ${o.rootkit} rootkit` : `demo: only ${seen.length} of ${nEvents} trap events arrived`;
    summary["ms"] = total;
    return summary;
  } finally {
    await agent?.close().catch(() => undefined);
    await world?.stop().catch(() => undefined);
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  }
}

const rank = (f: Finding): number => (f.severity === "high" ? 0 : f.severity === "medium" ? 1 : 2);

function big(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString(16) : v;
}

/** Waits until the guest has applied its rootkit scenarios (they run between time slices after boot). */
async function rootkitSettled(world: World): Promise<void> {
  const until = performance.now() + 30_000;
  while (performance.now() < until) {
    if (world.guest.booted && world.guest.scenarios.every((s) => s.status !== "pending")) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
