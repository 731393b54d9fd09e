/**
 * System calls of the workload: the SYSCALL entry path (fetch at LSTAR, swapgs, current
 * task from the per-CPU area, sys_call_table[nr] read, FETCH of the handler it holds)
 * and the handlers' bodies, which follow kernel pointers from guest memory: the fd
 * table → struct file → f_op, tty_ldiscs[N_TTY] → ldisc ops, proc_root → its
 * file_operations, init_net's netfilter hook entries, the pid IDR, the module list, the
 * keyboard notifier chain.
 */
import type { Cpu } from "../../platform/index.js";
import { NR } from "../arch.js";
import type { Task } from "../model/types.js";
import { NF_INET_POST_ROUTING, nfHooksSlot } from "../kernel/hook-points.js";
import { realTable, syscallHandlerName } from "../kernel/static-data.js";
import { u64Bytes } from "../mem/kmem.js";
import type { Gen, VcpuCtx } from "./context.js";
import { fetchInsn, INSN_LEN, readInsn, regInsn } from "./insn.js";
import type { KernelExec } from "./exec.js";
import { enterKernelSegments, readU64, seq, swapgs } from "./cpu-ops.js";
import { ATTR_USER_CS, ATTR_USER_DS, LINUX_SFMASK, USER_CS, USER_DS } from "../arch.js";

const WEIGHTS: readonly (readonly [number, number])[] = [
  [NR.getpid, 10],
  [NR.getuid, 6],
  [NR.read, 10],
  [NR.write, 12],
  [NR.getdents64, 6],
  [NR.sendto, 5],
  [NR.kill, 4],
  [NR.uname, 3],
  [NR.clock_gettime, 8],
  [NR.brk, 4],
  [NR.sched_yield, 3],
  [NR.nanosleep, 8],
  [NR.clone, 3],
  [NR.exit_group, 3],
  [NR.openat, 4],
  [NR.close, 3],
];
const TOTAL = WEIGHTS.reduce((a, [, w]) => a + w, 0);

/** One syscall the workload made: its number, the handler it fetched (what memory held). */
export interface SyscallEvent {
  readonly cpu: number;
  readonly nr: number;
  readonly handler: bigint;
}

export class SyscallBodies {
  readonly w: KernelExec;
  /** Observers of dispatched syscalls (tests). */
  readonly listeners: ((e: SyscallEvent) => void)[] = [];

  constructor(w: KernelExec) {
    this.w = w;
  }

  choose(v: VcpuCtx, task: Task): number {
    let r = v.rng.int(TOTAL);
    for (const [nr, wgt] of WEIGHTS) {
      if (r < wgt) {
        if (nr === NR.exit_group && (task.pinned || task.hidden || task.children.length > 0)) return NR.getpid;
        return nr;
      }
      r -= wgt;
    }
    return NR.getpid;
  }

  *syscall(v: VcpuCtx, task: Task, nr: number): Gen {
    const w = this.w;
    const k = w.k;
    yield fetchInsn(v.userRip, `mov eax, ${nr}`, (cpu) => cpu.setReg("rax", BigInt(nr)), 5);
    if (v.takeFault() !== undefined) return;
    const sysRip = v.userRip + INSN_LEN;
    yield fetchInsn(sysRip, "syscall", (cpu) => {
      cpu.setReg("rcx", sysRip + 2n);
      const rflags = cpu.getReg("rflags");
      cpu.setReg("r11", rflags);
      cpu.setReg("rflags", rflags & ~LINUX_SFMASK);
      enterKernelSegments(cpu);
      v.lstar = cpu.getReg("lstar");
    }, 2);
    if (v.takeFault() !== undefined) return;
    v.mode = "kernel";
    w.stats.syscalls++;
    let swapped = false;
    const entry = v.lstar;
    yield* w.callCode(v, entry, "entry_SYSCALL_64", function* (this: SyscallBodies): Gen {
      yield regInsn(w.fn("entry_SYSCALL_64") + INSN_LEN, "swapgs", (cpu) => {
        swapgs(cpu);
        swapped = true;
      }, 3);
      const ct = k.t.sym("current_task");
      yield { rip: w.fn("entry_SYSCALL_64") + 0x30n, kind: "read", what: "mov rax, gs:current_task", len: 9, exec: (cpu: Cpu) => void cpu.readVirt(cpu.getSegment("gs").base + ct, 8) };
      if (v.takeFault() !== undefined) return;
      const slot = k.addr.ksym("sys_call_table") + BigInt(nr * 8);
      yield readInsn(w.fn("do_syscall_64") + 0x40n, slot, 8, `read sys_call_table[${nr}]`, (b) => (v.value = readU64(b)));
      if (v.takeFault() !== undefined) return;
      const handler = v.value;
      w.stats.syscallsByNr.set(nr, (w.stats.syscallsByNr.get(nr) ?? 0) + 1);
      for (const l of this.listeners) l({ cpu: v.cpu, nr, handler });
      yield* w.callCode(v, handler, `${syscallHandlerName(nr)}`, () => this.body(v, task, nr, handler));
    }.bind(this));
    const rq = k.rqs[v.cpu]!;
    if (rq.curr !== task || task.phase !== "live") return;
    yield fetchInsn(w.fn("syscall_return_via_sysret"), "sysretq", (cpu) => {
      if (swapped) swapgs(cpu);
      cpu.setReg("rax", 0n);
      cpu.setCpl(3);
      cpu.setSegment("cs", { selector: USER_CS, attrib: ATTR_USER_CS, limit: 0xffffffff, base: 0n });
      cpu.setSegment("ss", { selector: USER_DS, attrib: ATTR_USER_DS, limit: 0xffffffff, base: 0n });
      cpu.setReg("rflags", cpu.getReg("r11"));
    }, 3);
    v.mode = "user";
    v.userRip = sysRip + INSN_LEN;
    if (v.userRip >= (task.mm!.vmas.find((x) => x.name === "text")!.start + 0xff0n)) v.userRip = task.mm!.vmas.find((x) => x.name === "text")!.start;
  }

  /** What the handler does after it was fetched. */
  *body(v: VcpuCtx, task: Task, nr: number, handler: bigint): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    const rip = handler + INSN_LEN;
    switch (nr) {
      case NR.getpid:
        yield readInsn(rip, task.va + BigInt(t.o("task_struct", "tgid")), 4, "current->tgid");
        return;
      case NR.getuid:
        yield readInsn(rip, task.va + BigInt(t.o("task_struct", "cred")), 8, "current->cred", (b) => (v.value = readU64(b)));
        if (v.takeFault() !== undefined) return;
        yield readInsn(rip + INSN_LEN, v.value + BigInt(t.o("cred", "uid")), 4, "cred->uid");
        return;
      case NR.read:
        yield* this.readBody(v, task, rip);
        return;
      case NR.write:
        yield* this.fileOp(v, task, 1, "write_iter", () => this.ttyWrite(v));
        yield* this.userBuffer(v, task, rip, false);
        return;
      case NR.getdents64: {
        const procRoot = k.addr.kaddr(realTable("proc_root").addr);
        yield readInsn(rip, procRoot + BigInt(t.o("proc_dir_entry", "proc_dir_ops")), 8, "proc_root.proc_dir_ops", (b) => (v.value = readU64(b)));
        if (v.takeFault() !== undefined) return;
        const fops = v.value;
        yield* w.callPointer(v, rip + INSN_LEN, fops + BigInt(t.o("file_operations", "iterate_shared")), "proc_root fops->iterate_shared", () => this.procReaddir());
        return;
      }
      case NR.sendto: {
        yield readInsn(rip, nfHooksSlot(k, NF_INET_POST_ROUTING), 8, "init_net.nf.hooks_ipv4[POST_ROUTING]", (b) => (v.value = readU64(b)));
        if (v.takeFault() !== undefined || v.value === 0n) return;
        const entries = v.value;
        yield readInsn(rip + INSN_LEN, entries + BigInt(t.o("nf_hook_entries", "num_hook_entries")), 2, "nf_hook_entries.num_hook_entries", (b) => (v.value = BigInt(b[0]! | (b[1]! << 8))));
        if (v.takeFault() !== undefined) return;
        const n = Math.min(Number(v.value), 8);
        const stride = BigInt(t.size("nf_hook_entry"));
        for (let j = 0; j < n; j++) {
          const at = entries + BigInt(t.o("nf_hook_entries", "hooks")) + BigInt(j) * stride + BigInt(t.o("nf_hook_entry", "hook"));
          yield* w.callPointer(v, w.fn("nf_hook_slow") + 0x20n, at, `nf hook ${j}`);
        }
        return;
      }
      case NR.kill:
        yield* this.pidLookup(v, rip);
        return;
      case NR.uname: {
        const rel = k.addr.ksym("init_uts_ns") + BigInt(t.o("uts_namespace", "name.release"));
        yield readInsn(rip, rel, 65, "init_uts_ns.name.release");
        yield* this.userBuffer(v, task, rip + INSN_LEN, true);
        return;
      }
      case NR.clock_gettime: {
        const rq = k.rqs[v.cpu]!;
        yield readInsn(rip, rq.rqVa + BigInt(t.o("rq", "clock")), 8, "rq->clock");
        yield* this.userBuffer(v, task, rip + INSN_LEN, true);
        return;
      }
      case NR.brk:
        if (task.mm !== null) yield readInsn(rip, task.mm.va + BigInt(t.o("mm_struct", "brk")), 8, "mm->brk");
        return;
      case NR.sched_yield:
        yield* w.schedule(v);
        return;
      case NR.nanosleep:
        yield* w.sleepCurrent(v, "S");
        return;
      case NR.clone:
        yield* w.fork(v, task);
        return;
      case NR.exit_group:
        if (task.pinned || task.hidden || task.children.length > 0 || w.liveCount() <= w.opts.target - w.slack()) {
          yield readInsn(rip, task.va + BigInt(t.o("task_struct", "tgid")), 4, "current->tgid");
          return;
        }
        yield* w.exit(v, task);
        return;
      case NR.openat:
        yield* this.userBuffer(v, task, rip, false);
        yield readInsn(rip + INSN_LEN, k.rootDentry.va + BigInt(t.o("dentry", "d_iname")), 8, "root dentry name");
        return;
      case NR.close:
        yield readInsn(rip, task.files.va + BigInt(t.o("files_struct", "fdt")), 8, "files->fdt");
        return;
      default:
        yield readInsn(rip, task.va + BigInt(t.o("task_struct", "flags")), 4, "current->flags");
    }
  }

  /** read(): the console, /proc/net/tcp or /proc/modules. */
  *readBody(v: VcpuCtx, task: Task, rip: bigint): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    switch (v.rng.int(3)) {
      case 0:
        yield* this.fileOp(v, task, 0, "read_iter", () => this.ttyLdiscCall(v, "read"));
        yield* this.userBuffer(v, task, rip, true);
        return;
      case 1: {
        // /proc/net/tcp: the seq_file's ops are PDE(inode)->seq_ops (seq_open_net), tcp_seq_start
        // reads the family from PDE(inode)->data (&tcp4_seq_afinfo), then m->op->show per socket.
        const pde = w.hooks.proc.byPath.get("/proc/net/tcp")!;
        yield readInsn(rip, pde + BigInt(t.o("proc_dir_entry", "seq_ops")), 8, "PDE(inode)->seq_ops", (b) => (v.value = readU64(b)));
        if (v.takeFault() !== undefined || v.value === 0n) return;
        const ops = v.value;
        yield readInsn(w.fn("tcp_seq_start"), pde + BigInt(t.o("proc_dir_entry", "data")), 8, "PDE(inode)->data", (b) => (v.value = readU64(b)));
        if (v.takeFault() !== undefined || v.value === 0n) return;
        yield readInsn(w.fn("tcp_seq_start") + INSN_LEN, v.value, 2, "afinfo->family");
        yield* w.callPointer(v, w.fn("seq_read_iter") + 0x30n, ops + BigInt(t.o("seq_operations", "show")), "seq_ops->show");
        return;
      }
      default:
        yield* this.moduleWalk(v);
    }
  }

  /** fd → struct file → f_op → f_op->member: the VFS indirect call, every pointer from memory. */
  *fileOp(v: VcpuCtx, task: Task, fd: number, member: "read_iter" | "write_iter", body: () => Gen): Gen {
    const w = this.w;
    const t = w.k.t;
    const rip = w.fn(member === "read_iter" ? "vfs_read" : "vfs_write");
    yield readInsn(rip, task.files.va + BigInt(t.o("files_struct", "fdt")), 8, "files->fdt", (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined) return;
    yield readInsn(rip + INSN_LEN, v.value + BigInt(t.o("fdtable", "fd")), 8, "fdt->fd", (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined) return;
    yield readInsn(rip + 2n * INSN_LEN, v.value + BigInt(fd * 8), 8, `fd[${fd}]`, (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined || v.value === 0n) return;
    yield readInsn(rip + 3n * INSN_LEN, v.value + BigInt(t.o("file", "f_op")), 8, "file->f_op", (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined || v.value === 0n) return;
    yield* w.callPointer(v, rip + 4n * INSN_LEN, v.value + BigInt(t.o("file_operations", member)), `f_op->${member}`, body);
  }

  /** tty_write → the N_TTY line discipline's write, through tty_ldiscs[N_TTY]. */
  *ttyWrite(v: VcpuCtx): Gen {
    yield* this.ttyLdiscCall(v, "write");
  }

  *ttyLdiscCall(v: VcpuCtx, member: "write" | "read" | "receive_buf"): Gen {
    const w = this.w;
    const k = w.k;
    yield readInsn(w.fn("tty_ldisc_ref_wait") + 0x10n, k.addr.ksym("tty_ldiscs"), 8, "tty_ldiscs[N_TTY]", (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined || v.value === 0n) return;
    const off = k.t.member("tty_ldisc_ops", member);
    yield* w.callPointer(v, w.fn("tty_write") + 0x40n, v.value + BigInt(off), `ldisc ops->${member}`);
  }

  /** proc_pid_readdir: walks a few live tasks (comm and pid). */
  *procReaddir(): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    yield readInsn(w.fn("proc_pid_readdir") + 0x10n, k.idr.xaVa + BigInt(t.o("xarray", "xa_head")), 8, "init_pid_ns.idr xa_head");
    const tasks: Task[] = [];
    for (let i = 0; i < k.taskArr.length && tasks.length < 4; i++) if (k.taskArr[i]!.kind !== "idle") tasks.push(k.taskArr[i]!);
    for (const x of tasks) yield readInsn(w.fn("proc_pid_readdir") + 0x30n, x.va + BigInt(t.o("task_struct", "comm")), 16, "task->comm");
  }

  /** find_vpid(): walk the pid IDR from xa_head to the slot, following the nodes in memory. */
  *pidLookup(v: VcpuCtx, rip: bigint): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    const target = k.taskArr[v.rng.int(k.taskArr.length)]!;
    if (target.kind === "idle" || target.phase !== "live") return;
    const pid = target.pid;
    yield readInsn(rip, k.idr.xaVa + BigInt(t.o("xarray", "xa_head")), 8, "idr xa_head", (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined) return;
    for (let depth = 0; depth < 4 && (v.value & 3n) === 2n && v.value > 4096n; depth++) {
      const node = v.value & ~3n;
      let shift = 0;
      yield readInsn(rip + INSN_LEN, node + BigInt(t.o("xa_node", "shift")), 1, "xa_node.shift", (b) => (shift = b[0]!));
      if (v.takeFault() !== undefined) return;
      const slot = node + BigInt(t.o("xa_node", "slots")) + BigInt(((pid >>> shift) & 63) * 8);
      yield readInsn(rip + 2n * INSN_LEN, slot, 8, "xa_node.slots[]", (b) => (v.value = readU64(b)));
      if (v.takeFault() !== undefined) return;
    }
    if (v.value === 0n || (v.value & 3n) !== 0n) return;
    yield readInsn(rip + 3n * INSN_LEN, v.value + BigInt(t.o("pid", "numbers") + t.o("upid", "nr")), 4, "pid->numbers[0].nr");
  }

  /** /proc/modules: m_start/m_next over the `modules` list in memory, m_show per module. */
  *moduleWalk(v: VcpuCtx): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    const head = k.addr.ksym("modules");
    const next = BigInt(t.o("list_head", "next"));
    yield readInsn(w.fn("seq_read_iter") + 0x10n, head + next, 8, "modules.next", (b) => (v.value = readU64(b)));
    const show = k.addr.kaddr(realTable("modules_op").addr) + BigInt(t.o("seq_operations", "show"));
    for (let i = 0; i < 64; i++) {
      if (v.takeFault() !== undefined) return;
      const node = v.value;
      if (node === head || node === 0n) return;
      const mod = node - BigInt(t.o("module", "list"));
      yield* w.callPointer(v, w.fn("seq_read_iter") + 0x20n, show, "modules_op.show", () => seq(readInsn(w.fn("seq_read_iter") + 0x24n, mod + BigInt(t.o("module", "name")), 56, "module->name")));
      yield readInsn(w.fn("seq_read_iter") + 0x28n, node + next, 8, "module->list.next", (b) => (v.value = readU64(b)));
    }
  }

  /** The keyboard IRQ: kbd_event walks keyboard_notifier_list in memory. */
  *keyboardEvent(v: VcpuCtx): Gen {
    const w = this.w;
    const k = w.k;
    const t = k.t;
    const rip = w.fn("atomic_notifier_call_chain");
    yield readInsn(rip, k.addr.ksym("keyboard_notifier_list") + BigInt(t.o("atomic_notifier_head", "head")), 8, "keyboard_notifier_list.head", (b) => (v.value = readU64(b)));
    for (let i = 0; i < 8; i++) {
      if (v.takeFault() !== undefined) break;
      const nb = v.value;
      if (nb === 0n) break;
      yield* w.callPointer(v, w.fn("notifier_call_chain") + 0x10n, nb + BigInt(t.o("notifier_block", "notifier_call")), "notifier_block->notifier_call");
      yield readInsn(w.fn("notifier_call_chain") + 0x20n, nb + BigInt(t.o("notifier_block", "next")), 8, "notifier_block->next", (b) => (v.value = readU64(b)));
    }
    // The key reaches the console's line discipline: tty_ldiscs[N_TTY]->receive_buf.
    yield* this.ttyLdiscCall(v, "receive_buf");
  }

  /** copy_to_user / copy_from_user on the process's stack page. */
  *userBuffer(v: VcpuCtx, task: Task, rip: bigint, toUser: boolean): Gen {
    const mm = task.mm;
    if (mm === null) return;
    const buf = (mm.argStart & ~0xfffn) + 0x400n + BigInt(v.rng.int(64) * 8);
    if (toUser) yield { rip, kind: "write", what: "copy_to_user", va: buf, exec: (cpu: Cpu) => cpu.writeVirt(buf, u64Bytes(BigInt(v.retired))) };
    else yield readInsn(rip, buf, 32, "copy_from_user");
  }
}
