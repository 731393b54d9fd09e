/**
 * The deterministic workload: what each vCPU executes after boot, as a stream of guest
 * instructions. A timer interrupt (delivered through the IDT that IDTR points at),
 * scheduling on the per-CPU run queue (CR3 switches between processes), user code of the
 * current process, and its system calls: SYSCALL → fetch at LSTAR → read
 * sys_call_table[nr] → FETCH the handler that entry holds → the handler's data accesses
 * (following function pointers from memory: file_operations, ldisc ops, netfilter hooks,
 * notifier chains) → SYSRET. Processes fork and exit around a target count; the named
 * ones never exit. Rootkit and attack operations run on vCPU 0 between time slices.
 * Every value the kernel follows is read from guest memory at run time, so a hook a
 * rootkit (or anyone) wrote is executed.
 */
import type { Cpu } from "../../platform/index.js";
import { KEYBOARD_VECTOR, LOCAL_TIMER_VECTOR, RFLAGS_USER, USER_CS, USER_DS, ATTR_USER_CS, ATTR_USER_DS } from "../arch.js";
import type { Kernel } from "../model/kernel.js";
import type { ProcSpec } from "../model/population.js";
import { fillerProgram } from "../model/population.js";
import type { Task } from "../model/types.js";
import { GuestError } from "../errors.js";
import type { HookPoints } from "../kernel/hook-points.js";
import { decodeGateHandler } from "../kernel/static-data.js";
import { releaseTask, spawn } from "../kernel/process.js";
import { unlinkTask, writeTaskState } from "../kernel/task.js";
import { u64Bytes } from "../mem/kmem.js";
import type { VcpuCtx, Gen } from "./context.js";
import { fetchInsn, hltInsn, INSN_LEN, InsnRecorder, readInsn, regInsn, type Insn } from "./insn.js";
import { SyscallBodies } from "./syscalls.js";
import { enterKernelSegments, readU64, seq, swapgs, userTextRip } from "./cpu-ops.js";
import type { AdminOp, KernelExec, WorkloadOptions, WorkloadStats } from "./exec.js";
export type { AdminOp, KernelExec, WorkloadOptions, WorkloadStats } from "./exec.js";

export class Workload implements KernelExec {
  readonly k: Kernel;
  readonly hooks: HookPoints;
  readonly opts: WorkloadOptions;
  readonly admin: AdminOp[] = [];
  readonly inflight = new Map<number, "fork" | "exit">();
  readonly stats: WorkloadStats = { syscalls: 0, forks: 0, exits: 0, switches: 0, interrupts: 0, syscallsByNr: new Map() };
  lockOwner: number | null = null;
  /** Recorded kernel writes planned but not yet executed (the model is ahead of memory). */
  outstanding = 0;
  readonly #sym = new Map<string, bigint>();
  readonly sys: SyscallBodies;

  constructor(k: Kernel, hooks: HookPoints, opts: WorkloadOptions) {
    this.k = k;
    this.hooks = hooks;
    this.opts = opts;
    this.sys = new SyscallBodies(this);
  }

  /** Slid VA of a kernel function (for RIPs); _text if the profile lacks it. */
  fn(name: string): bigint {
    let v = this.#sym.get(name);
    if (v === undefined) {
      const s = this.k.t.symbolOrUndefined(name);
      v = this.k.addr.kaddr(s ?? this.k.t.sym("_text"));
      this.#sym.set(name, v);
    }
    return v;
  }

  /** Runs a builder with k.mem recording instructions; returns them. */
  record(fnName: string, build: () => void): Insn[] {
    const rec = new InsnRecorder(this.fn(fnName) + 0x10n, fnName);
    const saved = this.k.mem;
    this.k.mem = rec;
    try {
      build();
    } finally {
      this.k.mem = saved;
    }
    this.outstanding += rec.insns.length;
    const done = (): void => {
      this.outstanding--;
    };
    return rec.insns.map((i) => ({
      ...i,
      exec: (cpu: Cpu) => {
        const r = i.exec(cpu);
        done();
        return r;
      },
      onDrop: done,
    }));
  }

  // ------------------------------------------------------------------ the main loop

  *main(v: VcpuCtx): Gen {
    for (;;) {
      if (this.opts.enabled) yield* this.interrupt(v, LOCAL_TIMER_VECTOR, "apic timer", () => this.timerBody(v));
      yield* this.runAdmin(v);
      if (!this.opts.enabled) {
        yield hltInsn(this.fn("default_idle") + 0x20n);
        continue;
      }
      if (v.rng.int(16) === 0) yield* this.interrupt(v, KEYBOARD_VECTOR, "i8042 keyboard", () => this.sys.keyboardEvent(v));
      yield* this.schedule(v);
      const cur = this.k.rqs[v.cpu]!.curr;
      if (cur.kind === "user") yield* this.userSlice(v, cur);
      else if (cur.kind === "kthread") yield* this.kthreadSlice(v, cur);
      else yield hltInsn(this.fn("default_idle") + 0x20n);
    }
  }

  /** Rootkit / attack operations queued for this vCPU (kernel mode, lock held). */
  *runAdmin(v: VcpuCtx): Gen {
    for (;;) {
      const i = this.admin.findIndex((op) => (op.cpu ?? 0) === v.cpu);
      if (i < 0) return;
      const op = this.admin.splice(i, 1)[0]!;
      yield* this.lock(v);
      yield* op.run(v);
      yield* this.unlock(v);
    }
  }

  // ------------------------------------------------------------------ locking

  *lock(v: VcpuCtx): Gen {
    const lockVa = this.k.addr.ksym("tasklist_lock");
    const rip = this.fn("_raw_write_lock_irq");
    for (;;) {
      if (this.lockOwner === null || this.lockOwner === v.cpu) {
        this.lockOwner = v.cpu;
        yield { rip, kind: "write", what: "write_lock(&tasklist_lock)", va: lockVa, exec: (cpu: Cpu) => cpu.writeVirt(lockVa, new Uint8Array([0xff, 0, 0, 0])) };
        return;
      }
      yield readInsn(rip + 0x10n, lockVa, 4, "spin on tasklist_lock");
    }
  }

  *unlock(v: VcpuCtx): Gen {
    const lockVa = this.k.addr.ksym("tasklist_lock");
    yield { rip: this.fn("_raw_write_unlock_irq"), kind: "write", what: "write_unlock(&tasklist_lock)", va: lockVa, exec: (cpu: Cpu) => cpu.writeVirt(lockVa, new Uint8Array(4)) };
    if (this.lockOwner === v.cpu) this.lockOwner = null;
  }

  // ------------------------------------------------------------------ control transfers

  /**
   * Control reaches `addr` (a call or jump): FETCH there, then run what lives there — a
   * rootkit hook (which chains to the pointer it saved, read from memory) or the kernel
   * function's body. A fetch that faults (the exception fixup skipped it) ends the call.
   */
  *callCode(v: VcpuCtx, addr: bigint, what: string, body?: () => Gen, depth = 0): Gen {
    yield fetchInsn(addr, what);
    if (v.takeFault() !== undefined) return;
    const jmp = this.k.textJumps.get(addr);
    if (jmp !== undefined && depth < 4) {
      // The function's first bytes were patched with a jmp to rootkit code.
      yield* this.callCode(v, jmp, `${what} → patched jmp`, body, depth + 1);
      return;
    }
    const hook = this.k.hookCode.get(addr);
    if (hook !== undefined && depth < 4) {
      if (hook.resumeAt !== undefined) {
        yield fetchInsn(hook.resumeAt, `${hook.name}: resume patched function`);
        if (v.takeFault() !== undefined) return;
        if (body !== undefined) yield* body();
        return;
      }
      if (hook.chainPtrVa === undefined) return;
      yield readInsn(addr + INSN_LEN, hook.chainPtrVa, 8, `${hook.name}: load saved pointer`, (b) => (v.value = readU64(b)));
      if (v.takeFault() !== undefined) return;
      yield* this.callCode(v, v.value, `${what} (chained by ${hook.name})`, body, depth + 1);
      return;
    }
    if (body !== undefined) yield* body();
  }

  /** Indirect call through a function pointer in memory: read it, then call what it holds. */
  *callPointer(v: VcpuCtx, rip: bigint, ptrVa: bigint, what: string, body?: () => Gen): Gen {
    yield readInsn(rip, ptrVa, 8, `load ${what}`, (b) => (v.value = readU64(b)));
    if (v.takeFault() !== undefined) return;
    const target = v.value;
    if (target === 0n) return;
    yield* this.callCode(v, target, what, body);
  }

  /** Interrupt delivery: the CPU reads the gate from IDTR.base (at CPL 0) and jumps to its handler. */
  *interrupt(v: VcpuCtx, vector: number, what: string, body: () => Gen): Gen {
    const fromUser = v.mode === "user";
    this.stats.interrupts++;
    yield {
      rip: v.mode === "user" ? v.userRip : this.fn("default_idle"),
      kind: "read",
      what: `interrupt ${vector} (${what}): read IDT gate`,
      exec: (cpu: Cpu) => {
        const idtr = cpu.getSegment("idtr");
        const saved = cpu.cpl;
        cpu.setCpl(0);
        let gate: Uint8Array;
        try {
          gate = cpu.readVirt(idtr.base + BigInt(vector * 16), 16);
        } catch (e) {
          cpu.setCpl(saved);
          throw e;
        }
        v.gate = decodeGateHandler(gate);
        if (fromUser) {
          enterKernelSegments(cpu);
          swapgs(cpu);
        }
      },
    };
    if (v.takeFault() !== undefined) return;
    v.mode = "kernel";
    // The handler runs; the scheduler then returns to user mode (or not) from the slice.
    yield* this.callCode(v, v.gate, `IDT[${vector}] handler`, body);
  }

  *timerBody(v: VcpuCtx): Gen {
    const rq = this.k.rqs[v.cpu]!;
    const clock = rq.rqVa + BigInt(this.k.t.o("rq", "clock"));
    yield* this.callCode(v, this.fn("sysvec_apic_timer_interrupt"), "sysvec_apic_timer_interrupt", () =>
      seq(readInsn(this.fn("update_rq_clock"), clock, 8, "read rq->clock")),
    );
    yield* this.maybeWake(v);
  }

  /** iretq / sysretq to the current process's user RIP at CPL 3. */
  *returnToUser(v: VcpuCtx): Gen {
    const cur = this.k.rqs[v.cpu]!.curr;
    if (cur.kind !== "user" || cur.mm === null) return;
    if (v.userRip === 0n) v.userRip = userTextRip(cur, v.rng);
    yield fetchInsn(this.fn("swapgs_restore_regs_and_return_to_usermode"), "return to user mode", (cpu) => {
      swapgs(cpu);
      cpu.setCpl(3);
      cpu.setSegment("cs", { selector: USER_CS, attrib: ATTR_USER_CS, limit: 0xffffffff, base: 0n });
      cpu.setSegment("ss", { selector: USER_DS, attrib: ATTR_USER_DS, limit: 0xffffffff, base: 0n });
      cpu.setReg("rflags", RFLAGS_USER);
    });
    v.mode = "user";
  }

  // ------------------------------------------------------------------ scheduling

  *maybeWake(v: VcpuCtx): Gen {
    const rq = this.k.rqs[v.cpu]!;
    if (rq.nrRunning >= 3 || v.rng.int(3) !== 0) return;
    // Probe a few random tasks for a sleeper of this CPU (bounded work at any process count).
    const arr = this.k.taskArr;
    let task: Task | undefined;
    for (let i = 0; i < 24 && task === undefined; i++) {
      const t = arr[v.rng.int(arr.length)]!;
      if (t.cpu === v.cpu && !t.onRq && t.kind !== "idle" && t.phase === "live" && t.state !== "R") task = t;
    }
    if (task === undefined) return;
    const woken = task;
    const insns = this.record("try_to_wake_up", () => {
      woken.state = "R";
      writeTaskState(this.k, woken);
      rq.enqueue(this.k, woken);
    });
    yield* insns;
  }

  *schedule(v: VcpuCtx): Gen {
    const k = this.k;
    const rq = k.rqs[v.cpu]!;
    const prev = rq.curr;
    const left = rq.tree.leftmost();
    let next: Task;
    if (prev.kind !== "idle" && prev.onRq) {
      if (left === null || left.key >= prev.se.key + 3_000_000n) next = prev;
      else next = rq.pickNext();
    } else next = rq.pickNext();
    yield fetchInsn(this.fn("__schedule"), "__schedule");
    if (next === prev) return;
    this.stats.switches++;
    const ran = BigInt(1_000_000 + v.rng.int(3_000_000));
    yield* this.record("__schedule", () => rq.switchTo(k, next, prev.kind === "idle" ? 0n : ran));
    const cr3 = next.mm === null ? k.kpt.cr3 : next.mm.pgd.cr3;
    yield regInsn(this.fn("switch_mm_irqs_off") + 0x40n, "mov cr3", (cpu) => cpu.setReg("cr3", cr3), 3);
    yield fetchInsn(this.fn("__switch_to_asm"), "__switch_to_asm");
    yield fetchInsn(this.fn("__switch_to"), "__switch_to");
    v.userRip = next.kind === "user" ? userTextRip(next, v.rng) : 0n;
  }

  /** The current task leaves the run queue (sleep or exit) and another one runs. */
  *sleepCurrent(v: VcpuCtx, state: "S" | "I"): Gen {
    const k = this.k;
    const rq = k.rqs[v.cpu]!;
    const task = rq.curr;
    if (task.kind === "idle") return;
    if (task.hidden) {
      // A rootkit's hidden process keeps running (it never sleeps in the model).
      yield* this.schedule(v);
      return;
    }
    yield* this.record("dequeue_task_fair", () => {
      task.state = state;
      writeTaskState(k, task);
      rq.dequeueCurrent(k);
    });
    yield* this.schedule(v);
  }

  // ------------------------------------------------------------------ slices

  *userSlice(v: VcpuCtx, task: Task): Gen {
    yield* this.returnToUser(v);
    const n = 1 + v.rng.int(4);
    for (let i = 0; i < n; i++) {
      if (this.k.rqs[v.cpu]!.curr !== task || v.mode !== "user") return;
      yield* this.userCode(v, task);
      yield* this.sys.syscall(v, task, this.sys.choose(v, task));
    }
  }

  /** A few user instructions: fetch in the process's text, touch its stack and data. */
  *userCode(v: VcpuCtx, task: Task): Gen {
    const mm = task.mm!;
    yield fetchInsn(v.userRip, `${task.comm}: user code`);
    const own = mm.pages.filter((p) => p.owned);
    const target = own.length === 0 ? undefined : own[v.rng.int(own.length)];
    if (target !== undefined) {
      const va = target.va + BigInt(v.rng.int(256) * 8);
      if (v.rng.int(2) === 0) yield readInsn(v.userRip + INSN_LEN, va, 8, `${task.comm}: user load`);
      else yield { rip: v.userRip + INSN_LEN, kind: "write", what: `${task.comm}: user store`, va, exec: (cpu: Cpu) => cpu.writeVirt(va, u64Bytes(BigInt(v.retired))) };
    }
  }

  *kthreadSlice(v: VcpuCtx, task: Task): Gen {
    const work = ["worker_thread", "process_one_work", "run_ksoftirqd", "kswapd", "rcu_gp_kthread", "smpboot_thread_fn"];
    const fn = work[v.rng.int(work.length)]!;
    const rq = this.k.rqs[v.cpu]!;
    yield* this.callCode(v, this.fn(fn), `${task.comm}: ${fn}`, () =>
      seq(readInsn(this.fn(fn) + 0x20n, rq.rqVa + BigInt(this.k.t.o("rq", "nr_running")), 4, "read rq->nr_running")),
    );
    if (v.rng.int(2) === 0) yield* this.sleepCurrent(v, task.comm.startsWith("kworker") ? "I" : "S");
  }

  // ------------------------------------------------------------------ process lifecycle

  liveCount(): number {
    return this.k.processCount;
  }

  slack(): number {
    return Math.max(2, Math.floor(this.opts.target / 50));
  }

  /** clone(): a filler child of the current process, runnable on this CPU. */
  *fork(v: VcpuCtx, parent: Task): Gen {
    if (this.liveCount() >= this.opts.target + this.slack()) return;
    yield* this.lock(v);
    const [comm, binary, argv, progUid, files] = fillerProgram(v.rng);
    // fork inherits the parent's credentials; a root parent may start another user's program.
    const uid = parent.cred.euid === 0 ? progUid : parent.cred.uid;
    const spec: ProcSpec = { comm, argv, kind: "user", parent: -1, uid, binary, files, pinned: false, state: "S" };
    let task: Task | undefined;
    let insns: Insn[];
    try {
      insns = this.record("copy_process", () => {
        task = spawn(this.k, { spec, parent, cpu: v.cpu });
      });
    } catch (e) {
      // fork() fails with -ENOMEM when guest RAM runs out; the caller goes on.
      if (!(e instanceof GuestError && e.code === "OUT_OF_MEMORY")) throw e;
      yield* this.unlock(v);
      return;
    }
    const child = task!;
    child.phase = "creating";
    this.inflight.set(child.id, "fork");
    yield* insns;
    yield* this.record("wake_up_new_task", () => {
      child.state = "R";
      writeTaskState(this.k, child);
      this.k.rqs[v.cpu]!.enqueue(this.k, child);
    });
    child.phase = "live";
    this.inflight.delete(child.id);
    this.stats.forks++;
    yield* this.unlock(v);
  }

  /** exit_group(): unlink, switch away from the task's page tables, then free it. */
  *exit(v: VcpuCtx, task: Task): Gen {
    yield* this.lock(v);
    const k = this.k;
    const rq = k.rqs[v.cpu]!;
    task.phase = "exiting";
    this.inflight.set(task.id, "exit");
    yield* this.record("do_exit", () => {
      rq.dequeueCurrent(k);
      unlinkTask(k, task);
    });
    v.mode = "kernel";
    yield* this.schedule(v);
    releaseTask(k, task);
    this.inflight.delete(task.id);
    this.stats.exits++;
    yield* this.unlock(v);
  }
}

