/**
 * RDMI policies 4, 5, 6 and 8: kernel function-pointer tables hooks like to sit in.
 * netfilter-hooks: every registered hook of every network namespace (ipv4, ipv6, arp,
 *   bridge) points into kernel or module text.
 * tty-ldisc: every registered line discipline's operations are code.
 * syscall-table: every sys_call_table entry points into kernel text (a module or
 *   anything else is a hook).
 * keyboard-notifiers: every notifier on keyboard_notifier_list is code.
 */
import { VmiError, kva } from "../../vmi/index.js";
import { NF_INET_NUMHOOKS, NR_LDISCS, isKernelPointer } from "../constants.js";
import { WalkError, badPointer, walkCycle, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { StructView, readViews, windowOf } from "../struct-view.js";
import { containerOf, prefetchChain, walkList } from "../walkers/list.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";
import { CODE } from "./code-map.js";
import { checkOpsTables } from "./ops-table.js";

const NETFILTER = requirements("netfilter-hooks", {
  members: {
    net: ["list", "nf"],
    netns_nf: ["hooks_ipv4", "hooks_ipv6", "hooks_arp", "hooks_bridge"],
    nf_hook_entries: ["num_hook_entries", "hooks"],
    nf_hook_entry: ["hook"],
  },
  symbols: ["net_namespace_list", "init_net"],
  sizes: ["nf_hook_entry"],
  uses: [CODE],
});

/** Upper bound on hooks per hook point (the kernel's MAX_HOOK_COUNT is 1024). */
const MAX_HOOK_COUNT = 1024;

export const netfilterHooks: IntegrityCheck = {
  name: "netfilter-hooks",
  version: "1.0.0",
  policy: 4,
  description: "Netfilter hooks of every network namespace point into kernel or module text",
  requirements: [NETFILTER],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(NETFILTER);
    const f = finder(this.name);
    const code = await ctx.code();
    // Every namespace on net_namespace_list, and init_net whatever the list says.
    const initNet = k.bound(NETFILTER).sym.init_net;
    let listNote = "";
    let nets: bigint[];
    try {
      nets = (await walkList(k.vmi, b.sym.net_namespace_list, { walker: "net-namespaces", limit: k.limits.maxListLength })).map((n) => containerOf(n.node, b.o.net.list));
    } catch (e) {
      if (!(e instanceof WalkError)) throw e;
      nets = [];
      listNote = ` (net_namespace_list unreadable: ${e.code}; init_net checked)`;
    }
    if (!nets.includes(initNet)) nets.unshift(initNet);
    const families = (["hooks_ipv4", "hooks_ipv6", "hooks_arp", "hooks_bridge"] as const).map((fam) => {
      const m = b.m.netns_nf[fam];
      return { fam, offset: b.o.net.nf + m.offset, count: m.type.kind === "array" ? m.type.count : NF_INET_NUMHOOKS };
    });
    const slots: { net: bigint; fam: string; hook: number; at: bigint }[] = [];
    for (const net of nets) for (const fm of families) for (let h = 0; h < fm.count; h++) slots.push({ net, fam: fm.fam, hook: h, at: net + BigInt(fm.offset + h * 8) });
    const ptrs = await k.vmi.readManySettled(slots.map((s) => ({ ctx: kva(s.at), len: 8 })));
    const findings: Finding[] = [];
    const used = slots
      .map((s, i) => {
        const r = ptrs[i]!;
        if (r instanceof VmiError) throw walkReadError("netfilter-hooks", r, "nf hook slot");
        return { ...s, entries: new DataView(r.buffer, r.byteOffset).getBigUint64(0, true) };
      })
      .filter((s) => s.entries !== 0n);
    for (const s of used) if (!isKernelPointer(s.entries)) throw badPointer("netfilter-hooks", s.at, s.entries, "nf_hook_entries pointer");
    const heads = await readViews(k.vmi, used.map((s) => s.entries), windowOf([b.m.nf_hook_entries.num_hook_entries]));
    let total = 0;
    for (let i = 0; i < used.length; i++) {
      const v = heads[i]!;
      const s = used[i]!;
      if (v instanceof VmiError) throw walkReadError("netfilter-hooks", v, "nf_hook_entries");
      const n = v.u16(b.o.nf_hook_entries.num_hook_entries);
      if (n > MAX_HOOK_COUNT) throw walkLimit("netfilter-hooks", MAX_HOOK_COUNT, s.entries);
      const hooks = await k.vmi.readManySettled(
        Array.from({ length: n }, (_, j) => ({ ctx: kva(s.entries + BigInt(b.o.nf_hook_entries.hooks + j * b.size.nf_hook_entry + b.o.nf_hook_entry.hook)), len: 8 })),
      );
      hooks.forEach((r, j) => {
        if (r instanceof VmiError) throw walkReadError("netfilter-hooks", r, "nf_hook_entry");
        const fn = new DataView(r.buffer, r.byteOffset).getBigUint64(0, true);
        total++;
        const bad = code.judge(fn, "trusted");
        if (bad) findings.push(f(bad.severity, `net ${hex(s.net)} ${s.fam}[${s.hook}] hook ${j}`, bad.detail, fn));
      });
    }
    return { findings, note: `${nets.length} namespaces, ${total} hooks${listNote}` };
  },
};

const TTY = requirements("tty-ldisc", { symbols: ["tty_ldiscs"], sizes: ["tty_ldisc_ops"], uses: [CODE] });

export const ttyLdisc: IntegrityCheck = {
  name: "tty-ldisc",
  version: "1.0.0",
  policy: 5,
  description: "Registered tty line disciplines' operations point into kernel or module text",
  requirements: [TTY],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(TTY);
    const code = await ctx.code();
    let ptrs: bigint[];
    try {
      ptrs = await k.vmi.pointerArray(kva(b.sym.tty_ldiscs), NR_LDISCS);
    } catch (e) {
      if (e instanceof VmiError) throw walkReadError("tty-ldisc", e, "tty_ldiscs");
      throw e;
    }
    const f = finder(this.name);
    const findings: Finding[] = [];
    const tables = ptrs.flatMap((p, i) => {
      if (p === 0n) return [];
      if (!code.isStatic(p)) findings.push(f("medium", `tty_ldiscs[${i}]`, `tty_ldisc_ops at ${hex(p)} is outside kernel and module data`, p));
      return [{ address: p, struct: "tty_ldisc_ops", object: `tty_ldiscs[${i}]` }];
    });
    findings.push(...(await checkOpsTables(k, code, tables, { check: this.name })));
    return { findings, note: `${tables.length} line disciplines` };
  },
};

const SYSCALLS = requirements("syscall-table", { symbols: ["sys_call_table"], uses: [CODE] });

/** Entries of sys_call_table: up to the next symbol (trailing padding dropped), at most 1024. */
export function syscallCount(k: LinuxKernel, table: bigint): number {
  const un = table - k.virtSlide;
  let next: bigint | undefined;
  // The nearest symbol above the table bounds it.
  for (let probe = un + 8n; probe < un + 8n * 1025n; probe += 8n) {
    const h = k.profile.symbolAt(probe);
    if (h !== undefined && h.address > un) {
      next = h.address;
      break;
    }
  }
  return next === undefined ? 1024 : Math.min(1024, Number((next - un) / 8n));
}

export const syscallTable: IntegrityCheck = {
  name: "syscall-table",
  version: "1.0.0",
  policy: 6,
  description: "Every sys_call_table entry points into kernel text",
  requirements: [SYSCALLS],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(SYSCALLS);
    const code = await ctx.code();
    const f = finder(this.name);
    let n = syscallCount(k, b.sym.sys_call_table);
    let entries: bigint[];
    try {
      entries = await k.vmi.pointerArray(kva(b.sym.sys_call_table), n);
    } catch (e) {
      if (e instanceof VmiError) throw walkReadError("syscall-table", e, "sys_call_table");
      throw e;
    }
    while (n > 0 && entries[n - 1] === 0n) n--; // alignment padding after the last entry
    const findings: Finding[] = [];
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      if (code.inKernelText(e)) continue;
      findings.push(f("high", `sys_call_table[${i}]`, `points to ${code.describe(e)}`, e));
    }
    return { findings, note: `${n} entries` };
  },
};

const KBD = requirements("keyboard-notifiers", {
  members: { atomic_notifier_head: ["head"], notifier_block: ["notifier_call", "next"] },
  symbols: ["keyboard_notifier_list"],
  uses: [CODE],
});

export const keyboardNotifiers: IntegrityCheck = {
  name: "keyboard-notifiers",
  version: "1.0.0",
  policy: 8,
  description: "Keyboard notifier callbacks point into kernel or module text",
  requirements: [KBD],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(KBD);
    const code = await ctx.code();
    const f = finder(this.name);
    const findings: Finding[] = [];
    const seen = new Set<bigint>();
    let at = b.sym.keyboard_notifier_list + BigInt(b.o.atomic_notifier_head.head);
    const nb = b.o.notifier_block;
    // The chain in one exchange when the driver chases pointers; the loop reads what that lacks.
    const w = windowOf([b.m.notifier_block.notifier_call, b.m.notifier_block.next]);
    const pre = await prefetchChain(k.vmi, { head: at, nextOffset: nb.next, stop: 0n, limit: k.limits.maxListLength, window: w });
    const field = (node: bigint, off: number): Promise<bigint> => {
      const got = pre?.get(node);
      return got !== undefined ? Promise.resolve(new StructView(node, got, w.from).ptr(off)) : k.vmi.pointer(kva(node + BigInt(off)));
    };
    let cur: bigint;
    try {
      cur = pre?.first ?? (await k.vmi.pointer(kva(at)));
      while (cur !== 0n) {
        if (!isKernelPointer(cur)) throw badPointer("keyboard-notifiers", at, cur, "notifier_block pointer");
        if (seen.has(cur)) throw walkCycle("keyboard-notifiers", cur);
        if (seen.size >= k.limits.maxListLength) throw walkLimit("keyboard-notifiers", k.limits.maxListLength);
        seen.add(cur);
        const call = await field(cur, nb.notifier_call);
        const bad = code.judge(call, "trusted");
        if (bad) findings.push(f(bad.severity === "medium" ? "high" : bad.severity, `keyboard notifier ${hex(cur)}`, `notifier_call ${bad.detail}`, call));
        at = cur + BigInt(nb.next);
        cur = await field(cur, nb.next);
      }
    } catch (e) {
      if (e instanceof VmiError) throw walkReadError("keyboard-notifiers", e, "notifier chain");
      throw e;
    }
    return { findings, note: `${seen.size} notifiers` };
  },
};
