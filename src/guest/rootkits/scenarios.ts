/**
 * Rootkit scenarios: each changes exactly what its name says, as guest instructions, and
 * records the change (HookRecord in the ground truth). Hooks point into the rootkit's own
 * module and chain to the original (read back from the module's data at run time).
 *
 *   hide-process[=PID|COMM]          DKOM: unlink task->tasks (still in the pid IDR, still runnable)
 *   hook-syscall[=NR|NAME][:hidden]  sys_call_table[nr] → module code (module optionally hidden)
 *   patch-idt[=VECTOR]               idt_table[vector] gate → module code (default the APIC timer)
 *   lstar                            MSR_LSTAR of every vCPU → module code (chains to entry_SYSCALL_64)
 *   hide-module[=NAME]               list_del(&mod->list), kset entry kept (default: its own module)
 *   escalate-cred[=PID|COMM][:share|:zero]  cred of a non-root process → uid 0
 *   patch-text[=SYMBOL]              first 5 bytes of a kernel function → jmp rel32 to module code
 *   hook-proc-fops[=MEMBER]          proc_root_operations.MEMBER (iterate_shared) → module code
 *   hook-netfilter[=HOOK]            a new hook first in init_net.nf.hooks_ipv4[HOOK] (POST_ROUTING)
 *   hook-tty[=MEMBER]                n_tty_ops.MEMBER (receive_buf) → module code
 *   hook-keyboard                    a notifier_block at the head of keyboard_notifier_list
 *   hook-afinfo[=MEMBER][:inplace]   /proc/net/tcp's pde->seq_ops → a copy of tcp4_seq_ops in the
 *                                    module with MEMBER (show) → module code; :inplace writes
 *                                    tcp4_seq_ops.MEMBER itself (read-only data, via the direct map)
 */
import { GuestError } from "../errors.js";
import type { Kernel } from "../model/kernel.js";
import type { Task } from "../model/types.js";
import { LOCAL_TIMER_VECTOR, MSR_LSTAR, NR } from "../arch.js";
import { encodeGate, realGate, realMember, realTable, SYSCALL_COUNT, syscallHandler, syscallHandlerName } from "../kernel/static-data.js";
import { REAL_SYSCALL_TABLE } from "../data/real-kernel-data.generated.js";
import { moduleListNode } from "../kernel/modules.js";
import { nfHooksSlot, writeNfEntries, NF_INET_POST_ROUTING, type NfHookSet } from "../kernel/hook-points.js";
import { writeTaskCred, writeTaskState } from "../kernel/task.js";
import { StructBuf, u32Bytes, u64Bytes } from "../mem/kmem.js";
import { kernelTextBytes } from "../kernel/text.js";
import type { AdminOp } from "../workload/workload.js";
import type { Gen, VcpuCtx } from "../workload/context.js";
import { regInsn } from "../workload/insn.js";
import { badArg, type Scenario, type ScenarioCtx } from "./types.js";
import { dataSlot, ensureRkModule, hookEntry, writePtr, writableAlias, type RkModule } from "./rk-module.js";

// ------------------------------------------------------------------ helpers

function op(name: string, run: (v: VcpuCtx) => Gen, cpu?: number): AdminOp {
  return { name, run, ...(cpu !== undefined ? { cpu } : {}) };
}

function findTask(k: Kernel, sel: string | undefined, fallback: (t: Task) => boolean): Task {
  const live = [...k.byPid.values()].filter((t) => t.phase === "live").sort((a, b) => a.pid - b.pid);
  let t: Task | undefined;
  if (sel === undefined || sel === "") t = live.find(fallback);
  else if (/^\d+$/.test(sel)) t = live.find((x) => x.pid === Number(sel));
  else t = live.find((x) => x.comm === sel.slice(0, 15));
  if (t === undefined) throw new GuestError("BAD_ROOTKIT_ARG", `no live process matches "${sel ?? "(default)"}"`, { selector: sel });
  return t;
}

function splitArg(arg: string | undefined): [string | undefined, string | undefined] {
  if (arg === undefined) return [undefined, undefined];
  const i = arg.indexOf(":");
  return i < 0 ? [arg, undefined] : [arg.slice(0, i) === "" ? undefined : arg.slice(0, i), arg.slice(i + 1)];
}

/** Module code that chains to `original` through a saved pointer. */
function* chainingHook(ctx: ScenarioCtx, moduleName: string, hookName: string, original: bigint, out: { hook?: bigint; rk?: RkModule }): Gen {
  const { k, w } = ctx;
  const m: { rk?: RkModule } = {};
  yield* ensureRkModule(w, moduleName, m);
  const rk = m.rk!;
  const hook = hookEntry(rk);
  const slot = dataSlot(k, rk);
  yield* w.record("rootkit_init", () => k.mem.write(slot, u64Bytes(original)));
  k.hookCode.set(hook, { addr: hook, name: hookName, rootkit: ctx.rec.name, chainPtrVa: slot });
  out.hook = hook;
  out.rk = rk;
}

function record(ctx: ScenarioCtx, kind: string, target: string, address: bigint | undefined, original: bigint, current: bigint, owner: string | undefined): void {
  ctx.k.hooks.push({ kind, target, ...(address !== undefined ? { address } : {}), original, current, ...(owner !== undefined ? { owner } : {}), rootkit: ctx.rec.name });
  (ctx.rec.changes ??= []).push(`${target}: 0x${original.toString(16)} -> 0x${current.toString(16)}`);
}

const MEMBER = /^[a-z_][a-z0-9_]*$/;

function memberValidator(name: string): (arg: string | undefined) => void {
  return (arg) => {
    if (arg !== undefined && !MEMBER.test(arg)) throw badArg(name, arg, "expected a member name");
  };
}

/** Replaces a function pointer of a static ops table with a chaining hook. */
function tableHook(name: string, kind: string, table: string, type: string, defMember: string, summary: string): Scenario {
  return {
    name,
    kind: "rootkit",
    summary,
    validate: memberValidator(name),
    ops: (ctx) => [
      op(name, function* () {
        const { k, w } = ctx;
        const member = ctx.arg ?? defMember;
        const slotVa = k.addr.kaddr(realTable(table).addr) + BigInt(k.t.member(type, member));
        const original = realMember(k, table, member);
        const o: { hook?: bigint; rk?: RkModule } = {};
        yield* chainingHook(ctx, "rk_hooks", `${name}:${member}`, original, o);
        yield* w.record("rootkit_hook", () => writePtr(k, slotVa, o.hook!));
        record(ctx, kind, `${table}.${member}`, slotVa, original, o.hook!, o.rk!.mod.name);
      }),
    ],
  };
}

// ------------------------------------------------------------------ scenarios

const hideProcess: Scenario = {
  name: "hide-process",
  kind: "rootkit",
  summary: "unlink a process from the task list (DKOM); it stays in the pid IDR and on the run queue",
  validate(arg) {
    const [sel, mode] = splitArg(arg);
    if (sel !== undefined && !/^[\x21-\x7e]{1,15}$/.test(sel)) throw badArg("hide-process", arg, "expected a pid or a comm");
    if (mode !== undefined && mode !== "keep" && mode !== "poison" && mode !== "init") throw badArg("hide-process", arg, "mode must be keep, poison or init");
  },
  ops: (ctx) => [
    op("hide-process", function* () {
      const { k, w } = ctx;
      const [sel, mode] = splitArg(ctx.arg);
      const task = findTask(k, sel, (t) => t.comm === "vmi_beta");
      if (task.hidden) return;
      // Keep it scheduled: a sleeping target is woken onto this CPU's run queue first.
      if (!task.onRq) {
        yield* w.record("try_to_wake_up", () => {
          task.state = "R";
          writeTaskState(k, task);
          k.rqs[0]!.enqueue(k, task);
        });
      }
      const node = task.va + BigInt(k.t.o("task_struct", "tasks"));
      yield* w.record("rootkit_hide_task", () => k.taskList.remove(k.mem, node, (mode ?? "keep") as "keep" | "poison" | "init"));
      task.hidden = true;
      record(ctx, "dkom-task", `task ${task.pid} (${task.comm})`, node, task.va, 0n, undefined);
    }),
  ],
};

function syscallNr(sel: string | undefined): number {
  if (sel === undefined) return NR.getdents64;
  if (/^\d+$/.test(sel)) return Number(sel);
  const i = REAL_SYSCALL_TABLE.findIndex((r) => r.sym === `__x64_sys_${sel}`);
  return i;
}

const hookSyscall: Scenario = {
  name: "hook-syscall",
  kind: "rootkit",
  summary: "point a sys_call_table entry at code in a rootkit module (optionally hidden: ARG NR|NAME[:hidden])",
  validate(arg) {
    const [sel, flag] = splitArg(arg);
    const nr = syscallNr(sel);
    if (!Number.isInteger(nr) || nr < 0 || nr >= SYSCALL_COUNT) throw badArg("hook-syscall", arg, `no system call ${sel}`);
    if (flag !== undefined && flag !== "hidden" && flag !== "visible") throw badArg("hook-syscall", arg, "flag must be hidden or visible");
  },
  ops: (ctx) => [
    op("hook-syscall", function* () {
      const { k, w } = ctx;
      const [sel, flag] = splitArg(ctx.arg);
      const nr = syscallNr(sel);
      const original = k.syscallOverrides.get(nr) ?? syscallHandler(k, nr);
      const o: { hook?: bigint; rk?: RkModule } = {};
      yield* chainingHook(ctx, "rk_syscall", `hook ${syscallHandlerName(nr)}`, original, o);
      const slot = k.addr.ksym("sys_call_table") + BigInt(nr * 8);
      yield* w.record("rootkit_hook", () => writePtr(k, slot, o.hook!));
      k.syscallOverrides.set(nr, o.hook!);
      record(ctx, "syscall", `sys_call_table[${nr}]`, slot, original, o.hook!, o.rk!.mod.name);
      if (flag === "hidden") yield* hideModuleOp(ctx, o.rk!.mod.name);
    }),
  ],
};

const patchIdt: Scenario = {
  name: "patch-idt",
  kind: "rootkit",
  summary: "point an IDT gate at code in a rootkit module (ARG vector, default the APIC timer 0xec)",
  validate(arg) {
    if (arg !== undefined && !(/^(0x[0-9a-f]+|\d+)$/i.test(arg) && Number(arg) < 256)) throw badArg("patch-idt", arg, "expected a vector 0..255");
  },
  ops: (ctx) => [
    op("patch-idt", function* () {
      const { k, w } = ctx;
      const vector = ctx.arg === undefined ? LOCAL_TIMER_VECTOR : Number(ctx.arg);
      const gate = realGate(k, vector);
      const original = k.idtOverrides.get(vector) ?? gate.handler;
      const o: { hook?: bigint; rk?: RkModule } = {};
      yield* chainingHook(ctx, "rk_idt", `idt hook ${vector}`, original, o);
      const at = k.addr.ksym("idt_table") + BigInt(vector * k.t.size("gate_struct"));
      yield* w.record("rootkit_hook", () => k.mem.write(writableAlias(k, at), encodeGate(k, { ...gate, handler: o.hook! })));
      k.idtOverrides.set(vector, o.hook!);
      record(ctx, "idt", `idt[${vector}]`, at, original, o.hook!, o.rk!.mod.name);
    }),
  ],
};

const lstar: Scenario = {
  name: "lstar",
  kind: "rootkit",
  summary: "point MSR_LSTAR of every vCPU at code in a rootkit module (chains to entry_SYSCALL_64)",
  validate(arg) {
    if (arg !== undefined) throw badArg("lstar", arg, "takes no argument");
  },
  ops: (ctx) => {
    const { k } = ctx;
    const state: { hook?: bigint; rk?: RkModule } = {};
    const entry = k.addr.ksym("entry_SYSCALL_64");
    const ops: AdminOp[] = [
      op("lstar:module", function* () {
        yield* chainingHook(ctx, "rk_lstar", "LSTAR hook", entry, state);
      }),
    ];
    for (let c = 0; c < k.cfg.layout.vcpus; c++) {
      ops.push(
        op(
          `lstar:wrmsr/${c}`,
          function* () {
            if (state.hook === undefined) return;
            const hook = state.hook;
            yield regInsn(ctx.w.fn("native_write_msr") + 0x10n, "wrmsr MSR_LSTAR", (cpu) => cpu.wrmsr(MSR_LSTAR, hook), 2);
            k.lstar[c] = hook;
            record(ctx, "msr", `LSTAR (vCPU ${c})`, undefined, entry, hook, state.rk!.mod.name);
          },
          c,
        ),
      );
    }
    return ops;
  },
};

function* hideModuleOp(ctx: ScenarioCtx, name: string): Gen {
  const { k, w } = ctx;
  const mod = k.modules.find((m) => m.name === name);
  if (mod === undefined) throw new GuestError("BAD_ROOTKIT_ARG", `no module named ${name}`, { module: name });
  if (mod.hiddenFromList) return;
  const node = moduleListNode(k, mod);
  const prev = k.moduleList.prevOf(node)!;
  yield* w.record("rootkit_hide_module", () => k.moduleList.remove(k.mem, node, "poison"));
  mod.hiddenFromList = true;
  record(ctx, "dkom-module", `module ${name}`, node, prev, 0n, name);
}

const hideModule: Scenario = {
  name: "hide-module",
  kind: "rootkit",
  summary: "list_del a module from `modules` (its sysfs kobject stays in module_kset); default: the rootkit's own module",
  validate(arg) {
    if (arg !== undefined && !/^[A-Za-z0-9_-]{1,55}$/.test(arg)) throw badArg("hide-module", arg, "expected a module name");
  },
  ops: (ctx) => [
    op("hide-module", function* () {
      let name = ctx.arg;
      if (name === undefined) {
        const m: { rk?: RkModule } = {};
        yield* ensureRkModule(ctx.w, "rk_hide", m);
        name = m.rk!.mod.name;
      }
      yield* hideModuleOp(ctx, name);
    }),
  ],
};

const CRED_UID_FIELDS = ["uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid"] as const;

const escalateCred: Scenario = {
  name: "escalate-cred",
  kind: "rootkit",
  summary: "give a non-root process uid 0: share a root process's cred (:share) or zero its uid fields (:zero, default)",
  validate(arg) {
    const [sel, mode] = splitArg(arg);
    if (sel !== undefined && !/^[\x21-\x7e]{1,15}$/.test(sel)) throw badArg("escalate-cred", arg, "expected a pid or a comm");
    if (mode !== undefined && mode !== "share" && mode !== "zero") throw badArg("escalate-cred", arg, "mode must be share or zero");
  },
  ops: (ctx) => [
    op("escalate-cred", function* () {
      const { k, w } = ctx;
      const [sel, mode] = splitArg(ctx.arg);
      const task = findTask(k, sel, (t) => t.kind === "user" && t.cred.euid !== 0);
      const before = BigInt(task.cred.euid);
      if ((mode ?? "zero") === "zero") {
        const cred = task.cred;
        yield* w.record("commit_creds", () => {
          for (const f of CRED_UID_FIELDS) k.mem.write(cred.va + BigInt(k.t.o("cred", f)), u32Bytes(0));
        });
        cred.uid = cred.gid = cred.euid = cred.egid = 0;
        record(ctx, "cred", `task ${task.pid} (${task.comm}) cred uids`, cred.va, before, 0n, undefined);
      } else {
        const root = k.byPid.get(1)!;
        const old = task.cred;
        yield* w.record("commit_creds", () => {
          task.cred = root.cred;
          writeTaskCred(k, task);
        });
        root.cred.refs++;
        old.refs--;
        record(ctx, "cred", `task ${task.pid} (${task.comm}) cred pointer`, task.va + BigInt(k.t.o("task_struct", "cred")), old.va, root.cred.va, undefined);
      }
    }),
  ],
};

const patchText: Scenario = {
  name: "patch-text",
  kind: "rootkit",
  summary: "overwrite the first 5 bytes of a kernel function with a jmp rel32 to rootkit code (default __x64_sys_getdents64)",
  validate(arg) {
    if (arg !== undefined && !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(arg)) throw badArg("patch-text", arg, "expected a kernel function name");
  },
  ops: (ctx) => [
    op("patch-text", function* () {
      const { k, w } = ctx;
      const sym = ctx.arg ?? "__x64_sys_getdents64";
      const un = k.t.symbolOrUndefined(sym);
      if (un === undefined) throw new GuestError("BAD_ROOTKIT_ARG", `no kernel symbol ${sym}`, { symbol: sym });
      const fn = k.addr.kaddr(un);
      if (fn < k.addr.textVa || fn >= k.addr.ksym("_etext")) throw new GuestError("BAD_ROOTKIT_ARG", `${sym} is not in kernel text`, { symbol: sym });
      const m: { rk?: RkModule } = {};
      yield* ensureRkModule(w, "rk_text", m);
      const hook = hookEntry(m.rk!);
      k.hookCode.set(hook, { addr: hook, name: `text hook ${sym}`, rootkit: ctx.rec.name, resumeAt: fn + 5n });
      const jmp = new StructBuf(8);
      jmp.u8(0, 0xe9);
      jmp.u32(1, Number(BigInt.asUintN(32, hook - (fn + 5n))));
      // The bytes there: the text generator's (the model never changes kernel text otherwise).
      const orig = kernelTextBytes(Number(fn - k.addr.textVa), 8);
      const patched = new Uint8Array(orig);
      patched.set(jmp.bytes.subarray(0, 5), 0);
      yield* w.record("text_poke", () => k.mem.write(k.addr.dmap(k.addr.imagePa(fn)), patched.subarray(0, 5)));
      k.textJumps.set(fn, hook);
      const le = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
      record(ctx, "text", `${sym}+0 (5 bytes)`, fn, le(orig), le(patched), m.rk!.mod.name);
    }),
  ],
};

const hookNetfilter: Scenario = {
  name: "hook-netfilter",
  kind: "rootkit",
  summary: "register a rootkit hook first in init_net.nf.hooks_ipv4[HOOK] (default NF_INET_POST_ROUTING)",
  validate(arg) {
    if (arg !== undefined && !(/^[0-4]$/.test(arg))) throw badArg("hook-netfilter", arg, "expected a hook number 0..4");
  },
  ops: (ctx) => [
    op("hook-netfilter", function* () {
      const { k, w } = ctx;
      const hookNo = ctx.arg === undefined ? NF_INET_POST_ROUTING : Number(ctx.arg);
      const m: { rk?: RkModule } = {};
      yield* ensureRkModule(w, "rk_net", m);
      const fn = hookEntry(m.rk!);
      k.hookCode.set(fn, { addr: fn, name: `nf hook ${hookNo}`, rootkit: ctx.rec.name });
      const sets = w.hooks.nf;
      const old = sets.find((s) => s.family === "hooks_ipv4" && s.hook === hookNo);
      const slot = nfHooksSlot(k, hookNo);
      const fresh: NfHookSet = { family: "hooks_ipv4", hook: hookNo, entriesVa: k.alloc("kmalloc-64"), fns: [fn, ...(old?.fns ?? [])] };
      yield* w.record("nf_register_net_hook", () => {
        writeNfEntries(k, fresh);
        k.mem.write(slot, u64Bytes(fresh.entriesVa));
      });
      if (old !== undefined) sets.splice(sets.indexOf(old), 1);
      sets.push(fresh);
      record(ctx, "netfilter", `init_net.nf.hooks_ipv4[${hookNo}]`, slot, old?.entriesVa ?? 0n, fresh.entriesVa, m.rk!.mod.name);
      (ctx.rec.changes ??= []).push(`hook function 0x${fn.toString(16)} first in the new nf_hook_entries`);
    }),
  ],
};

const hookKeyboard: Scenario = {
  name: "hook-keyboard",
  kind: "rootkit",
  summary: "register a rootkit notifier_block at the head of keyboard_notifier_list (a keylogger)",
  validate(arg) {
    if (arg !== undefined) throw badArg("hook-keyboard", arg, "takes no argument");
  },
  ops: (ctx) => [
    op("hook-keyboard", function* () {
      const { k, w } = ctx;
      const m: { rk?: RkModule } = {};
      yield* ensureRkModule(w, "rk_kbd", m);
      const fn = hookEntry(m.rk!);
      k.hookCode.set(fn, { addr: fn, name: "keyboard notifier", rootkit: ctx.rec.name });
      // The notifier_block lives in the module's data.
      const nb = dataSlot(k, m.rk!);
      dataSlot(k, m.rk!);
      dataSlot(k, m.rk!);
      const head = k.addr.ksym("keyboard_notifier_list") + BigInt(k.t.o("atomic_notifier_head", "head"));
      const oldHead = w.hooks.keyboardHead;
      yield* w.record("register_keyboard_notifier", () => {
        const b = new StructBuf(k.t.size("notifier_block"));
        b.u64(k.t.o("notifier_block", "notifier_call"), fn);
        b.u64(k.t.o("notifier_block", "next"), oldHead);
        b.i32(k.t.o("notifier_block", "priority"), 0x7fffffff);
        k.mem.write(nb, b.bytes);
        k.mem.write(head, u64Bytes(nb));
      });
      w.hooks.keyboardHead = nb;
      record(ctx, "notifier", "keyboard_notifier_list.head", head, oldHead, nb, m.rk!.mod.name);
    }),
  ],
};

/**
 * /proc/net/tcp's show hooked the way a rootkit does it on a kernel whose seq_operations
 * are const: a copy of tcp4_seq_ops in the module's data with MEMBER replaced, and the
 * entry's seq_ops pointed at the copy (what seq_open_net hands every new reader). With
 * `:inplace`, tcp4_seq_ops.MEMBER itself is overwritten through the direct map.
 */
const hookAfinfo: Scenario = {
  name: "hook-afinfo",
  kind: "rootkit",
  summary: "hook /proc/net/tcp: its seq_ops → a copy of tcp4_seq_ops in a rootkit module whose MEMBER (default show) is module code (ARG MEMBER[:inplace]; :inplace overwrites tcp4_seq_ops.MEMBER)",
  validate(arg) {
    const [member, mode] = splitArg(arg);
    if (member !== undefined && !MEMBER.test(member)) throw badArg("hook-afinfo", arg, "expected a member name");
    if (mode !== undefined && mode !== "inplace" && mode !== "copy") throw badArg("hook-afinfo", arg, "mode must be copy or inplace");
  },
  ops: (ctx) => {
    const [member, mode] = splitArg(ctx.arg);
    if (mode === "inplace") {
      const inplace = tableHook("hook-afinfo", "afinfo", "tcp4_seq_ops", "seq_operations", "show", "");
      return inplace.ops({ ...ctx, arg: member });
    }
    return [
      op("hook-afinfo", function* () {
        const { k, w } = ctx;
        const t = k.t;
        const m = member ?? "show";
        const table = realTable("tcp4_seq_ops");
        const original = realMember(k, "tcp4_seq_ops", m);
        const o: { hook?: bigint; rk?: RkModule } = {};
        yield* chainingHook(ctx, "rk_hooks", `hook-afinfo:${m}`, original, o);
        const rk = o.rk!;
        const size = t.sizeOfAny("seq_operations");
        const copy = dataSlot(k, rk);
        for (let i = 8; i < size; i += 8) dataSlot(k, rk);
        const pde = w.hooks.proc.byPath.get("/proc/net/tcp")!;
        const slot = pde + BigInt(t.o("proc_dir_entry", "seq_ops"));
        const tableVa = k.addr.kaddr(table.addr);
        yield* w.record("rootkit_hook", () => {
          const b = new StructBuf(size);
          for (const f of Object.keys(table.fields)) b.u64(t.member("seq_operations", f), realMember(k, "tcp4_seq_ops", f));
          b.u64(t.member("seq_operations", m), o.hook!);
          k.mem.write(copy, b.bytes);
          writePtr(k, slot, copy);
        });
        record(ctx, "afinfo", "/proc/net/tcp seq_ops", slot, tableVa, copy, rk.mod.name);
        (ctx.rec.changes ??= []).push(`the copy's ${m} → 0x${o.hook!.toString(16)} (chains to 0x${original.toString(16)})`);
      }),
    ];
  },
};

export const ROOTKITS: readonly Scenario[] = [
  hideProcess,
  hookSyscall,
  patchIdt,
  lstar,
  hideModule,
  escalateCred,
  patchText,
  tableHook("hook-proc-fops", "fops", "proc_root_operations", "file_operations", "iterate_shared", "point a member of proc_root_operations (/proc's file_operations; default iterate_shared) at rootkit code"),
  hookNetfilter,
  tableHook("hook-tty", "tty", "n_tty_ops", "tty_ldisc_ops", "receive_buf", "point a member of n_tty_ops (the N_TTY line discipline; default receive_buf) at rootkit code"),
  hookKeyboard,
  hookAfinfo,
];

export function isRootkitTask(t: Task): boolean {
  return t.hidden;
}

export { SYSCALL_COUNT };
