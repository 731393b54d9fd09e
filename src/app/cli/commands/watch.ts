/**
 * `seven watch page ADDR --access r|w|x|rw|rwx [--pid N|--pa] [--count N]` and
 * `seven watch function SYMBOL [--count N]`: arm a trap through the agent and print each
 * event (vCPU, access, RIP, CR3, addresses) until interrupted or N events were seen. The
 * vCPU is let through (continue) after each event; the trap is disarmed at the end.
 * Kernel symbols resolve on the owner's side: profile + the KASLR slide found in memory.
 * The guest is paused while the address is resolved; if it was paused already (`seven
 * pause`), the trap is watched from a fresh session, so that this command's own pause
 * (which joined that one) does not keep the guest stopped after `seven resume`.
 */
import type { Command } from "commander";
import { kva, listTasks, mmDtb, pidVa, type AgentV1Driver, type LinuxKernel, type TrapEvent, type TrapSpec } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { parseAddress, parseCount } from "../owner/address.js";
import { withLinux, withTarget } from "../owner/linux-target.js";
import { hex, note, out, jsonText } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

type Flags = TargetFlags & { count?: string; json?: boolean };

export interface WatchedEvent {
  readonly n: number;
  readonly event: TrapEvent;
  readonly symbol: string | undefined;
}

/** One line per event, for people. */
export function eventLine(w: WatchedEvent): string {
  const e = w.event;
  return (
    `#${w.n}  vcpu ${e.vcpu}  ${e.access}  rip ${hex(e.regs.rip)}${w.symbol ? ` (${w.symbol})` : ""}  cr3 ${hex(e.regs.cr3)}  gpa ${hex(e.gpa)}` +
    `${e.gva !== undefined ? `  gva ${hex(e.gva)}` : ""}  rdi ${hex(e.regs.rdi)}  rsi ${hex(e.regs.rsi)}`
  );
}

export function eventJson(w: WatchedEvent): Record<string, unknown> {
  const e = w.event;
  return {
    n: w.n,
    eventId: e.eventId,
    trapId: e.trapId,
    vcpu: e.vcpu,
    kind: e.kind,
    access: e.access,
    gpa: e.gpa,
    gva: e.gva ?? null,
    rip: e.regs.rip,
    symbol: w.symbol ?? null,
    cr3: e.regs.cr3,
    rsp: e.regs.rsp,
    rdi: e.regs.rdi,
    rsi: e.regs.rsi,
    rdx: e.regs.rdx,
    timeNs: e.timeNs,
  };
}

/**
 * Arms `spec`, calls `onEvent` for each event (answering continue) until `count` events,
 * an abort, or the end of the session; disarms. Returns the number of events seen.
 */
export async function watchTrap(agent: AgentV1Driver, spec: TrapSpec, opts: { count?: number; signal?: AbortSignal; onEvent: (e: TrapEvent, n: number) => void }): Promise<number> {
  let n = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const trap = await agent.armTrap(spec, (e) => {
    if (opts.count !== undefined && n >= opts.count) return "continue";
    n++;
    opts.onEvent(e, n);
    if (opts.count !== undefined && n >= opts.count) finish();
    return "continue";
  });
  const onAbort = (): void => finish();
  opts.signal?.addEventListener("abort", onAbort);
  try {
    await Promise.race([
      done,
      agent.ended.then((e) => {
        throw e;
      }),
    ]);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await trap.dispose().catch(() => undefined);
  }
  return n;
}

async function run(agent: AgentV1Driver, spec: TrapSpec, what: string, o: Flags, symbolize: (rip: bigint) => string | undefined): Promise<void> {
  const count = o.count !== undefined ? parseCount(o.count, "--count", 1, 1 << 30) : undefined;
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (!o.json) note(`watching ${what} (gpa ${hex(spec.gpa)}); ${count !== undefined ? `stopping after ${count} events` : "Ctrl-C to stop"}`);
    const n = await watchTrap(agent, spec, {
      ...(count !== undefined ? { count } : {}),
      signal: ac.signal,
      onEvent: (event, i) => {
        const w = { n: i, event, symbol: symbolize(event.regs.rip) };
        out(o.json ? jsonText(eventJson(w), 0) : eventLine(w));
      },
    });
    if (!o.json) note(`${n} event${n === 1 ? "" : "s"}; trap disarmed`);
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** What to watch, found while paused. */
interface Plan {
  readonly spec: TrapSpec;
  readonly what: string;
  readonly symbolize: (rip: bigint) => string | undefined;
}

/** Watches `plan` in the resolving session, or (when that session's pause joined one already in force) in a new one. */
async function watchPlan(o: Flags, agent: AgentV1Driver, plan: Plan): Promise<Plan | undefined> {
  if (agent.holdsJoinedPause) return plan;
  await run(agent, plan.spec, plan.what, o, plan.symbolize);
  return undefined;
}

async function watchElsewhere(o: Flags, command: string, plan: Plan | undefined): Promise<void> {
  if (plan !== undefined) await withTarget(o, "agent", command, (t) => run(t.agent!, plan.spec, plan.what, o, plan.symbolize));
}

async function pidDtb(k: LinuxKernel, pid: number): Promise<bigint> {
  const t = (await listTasks(k, { threads: true })).find((x) => x.pid === pid);
  if (t === undefined) throw new CliUsageError(`watch page --pid: no process with pid ${pid}`);
  if (t.mm === 0n) throw new CliUsageError(`watch page --pid: pid ${pid} is a kernel thread (no address space)`);
  return mmDtb(k, t.mm);
}

export function register(program: Command): void {
  const watch = program.command("watch").description("traps: print events until interrupted (or --count N)");
  const page = watch
    .command("page <addr>")
    .description("page access trap on the page holding ADDR (kernel VA or SYMBOL by default, --pid N, --pa)")
    .requiredOption("--access <rwx>", "accesses to trap: r, w, x, rw, rx, wx, rwx")
    .option("--pid <n>", "ADDR is a virtual address in this process")
    .option("--pa", "ADDR is guest-physical")
    .option("--count <n>", "stop after N events")
    .option("--json", "one JSON object per event");
  addTargetOptions(page, "agent", { profile: true }).action(async (addrArg: string, o: Flags & { access: string; pid?: string; pa?: boolean }) => {
    if (!/^[rwx]{1,3}$/.test(o.access) || new Set(o.access).size !== o.access.length) throw new CliUsageError(`watch page: --access must be letters from r, w, x (e.g. rw), not ${JSON.stringify(o.access)}`);
    if (o.pa && o.pid !== undefined) throw new CliUsageError("watch page: give --pa or --pid N, not both");
    const addr = parseAddress(addrArg);
    const pid = o.pid !== undefined ? parseCount(o.pid, "--pid", 0, 0x7fffffff) : undefined;
    if (o.count !== undefined) parseCount(o.count, "--count", 1, 1 << 30);
    if (o.pa) {
      if (addr.kind !== "number") throw new CliUsageError("watch page --pa: ADDR must be a number");
      await withTarget(o, "agent", "watch page", (t) => run(t.agent!, { gpa: addr.value, access: o.access }, `${o.access} accesses to physical page ${hex(addr.value & ~0xfffn)}`, o, () => undefined));
      return;
    }
    if (pid !== undefined && addr.kind !== "number") throw new CliUsageError("watch page --pid: ADDR must be a number");
    // Paused while the kernel, the process and the page are found; running while watched.
    const later = await withLinux(o, "agent", "watch page", { pause: true }, async (s) => {
      const va = addr.kind === "number" ? addr.value : BigInt.asUintN(64, s.kernel.symbol(addr.symbol) + addr.offset);
      const dtb = pid !== undefined ? await pidDtb(s.kernel, pid) : s.kernel.location.dtb;
      const gpa = await s.vmi.translate(pid !== undefined ? pidVa(pid, va) : kva(va));
      await s.release();
      const where = pid !== undefined ? `pid ${pid} VA ${hex(va)}` : `kernel VA ${hex(va)}${addr.kind === "symbol" ? ` (${addrArg})` : ""}`;
      return watchPlan(o, s.target.agent!, { spec: { gpa, access: o.access, va, dtb }, what: `${o.access} accesses to the page of ${where}`, symbolize: (rip) => s.kernel.symbolName(rip) });
    });
    await watchElsewhere(o, "watch page", later);
  });
  const fn = watch
    .command("function <symbol>")
    .description("function trap: an event each time the guest executes SYMBOL (e.g. __x64_sys_getpid)")
    .option("--count <n>", "stop after N events")
    .option("--json", "one JSON object per event");
  addTargetOptions(fn, "agent", { profile: true }).action(async (symbol: string, o: Flags) => {
    const addr = parseAddress(symbol, "SYMBOL");
    if (o.count !== undefined) parseCount(o.count, "--count", 1, 1 << 30);
    const later = await withLinux(o, "agent", "watch function", { pause: true }, async (s) => {
      const va = addr.kind === "number" ? addr.value : BigInt.asUintN(64, s.kernel.symbol(addr.symbol) + addr.offset);
      const gpa = await s.vmi.translate(kva(va));
      await s.release();
      const name = addr.kind === "symbol" ? symbol : (s.kernel.symbolName(va) ?? hex(va));
      return watchPlan(o, s.target.agent!, {
        spec: { gpa, access: "x", rips: [va], va, dtb: s.kernel.location.dtb },
        what: `executions of ${name} at ${hex(va)}`,
        symbolize: (rip) => s.kernel.symbolName(rip),
      });
    });
    await watchElsewhere(o, "watch function", later);
  });
}
