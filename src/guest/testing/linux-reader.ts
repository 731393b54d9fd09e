/**
 * A plain reader of Linux kernel memory for the guest's tests, written from the profile
 * alone (no model bookkeeping): it starts from a vCPU's CR3 and IDTR, finds the KASLR
 * slide from IDT gate 0, and walks the kernel's structures through the page tables the
 * way forensic tools do. If the guest laid anything out differently from the profile,
 * these walks return something other than the ground truth.
 */
import type { Profile } from "../../shared/kernel/index.js";
import { PTE, pteAddressMask } from "../../shared/spec/index.js";

export interface PhysReader {
  read(pa: bigint, len: number): Uint8Array;
}

export class PageFaultInReader extends Error {}

export interface RTask {
  readonly va: bigint;
  readonly pid: number;
  readonly tgid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly uid: number;
  readonly euid: number;
  readonly mm: bigint;
  readonly dtb: bigint | null;
  readonly state: number;
}

export interface RModule {
  readonly va: bigint;
  readonly name: string;
  readonly base: bigint;
  readonly size: number;
  readonly textSize: number;
  readonly refcnt: number;
  readonly sigOk: boolean;
  readonly taints: bigint;
}

/** A procfs entry (struct proc_dir_entry) and where it sits. */
export interface RProcEntry {
  readonly va: bigint;
  /** Path from the walk's root ("" for the root, "tcp", "stat/rt_cache"). */
  readonly path: string;
  readonly name: string;
  readonly namelen: number;
  readonly mode: number;
  readonly nlink: number;
  readonly lowIno: number;
  readonly parent: bigint;
  readonly iops: bigint;
  readonly ops: bigint;
  readonly dops: bigint;
  readonly seqOps: bigint;
  readonly data: bigint;
  /** Children in subdir rb-tree order, and whether the tree is ordered as proc_match orders names. */
  readonly children: readonly bigint[];
  readonly ordered: boolean;
}

export interface RVma {
  readonly start: bigint;
  readonly end: bigint;
  readonly flags: bigint;
  readonly file: bigint;
}

export class LinuxReader {
  readonly p: Profile;
  readonly mem: PhysReader;
  readonly cr3: bigint;
  readonly cBit: number;
  /** Virtual KASLR slide, from IDT gate 0 − asm_exc_divide_error. */
  readonly slide: bigint;
  readonly idtBase: bigint;

  constructor(p: Profile, mem: PhysReader, o: { cr3: bigint; idtBase: bigint; cBit?: number }) {
    this.p = p;
    this.mem = mem;
    this.cr3 = o.cr3;
    this.cBit = o.cBit ?? 51;
    this.idtBase = o.idtBase;
    const gate0 = this.gate(0).handler;
    this.slide = gate0 - p.requireSymbol("asm_exc_divide_error");
  }

  off(struct: string, path: string): bigint {
    return BigInt(this.p.offsetOf(struct, path));
  }

  sym(name: string): bigint {
    const a = this.p.requireSymbol(name);
    return a >= 0xffffffff80000000n ? a + this.slide : a;
  }

  translate(va: bigint, cr3 = this.cr3): bigint {
    const mask = pteAddressMask(this.cBit);
    let table = cr3 & mask;
    for (let level = 4; level >= 1; level--) {
      const idx = (va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn;
      const e = this.u64p(table + idx * 8n);
      if ((e & PTE.P) === 0n) throw new PageFaultInReader(`VA 0x${va.toString(16)} not present at level ${level}`);
      if (level === 1 || (level < 4 && (e & PTE.PS) !== 0n)) {
        const size = 1n << BigInt(12 + 9 * (level - 1));
        return (e & mask & ~(size - 1n)) + (va & (size - 1n));
      }
      table = e & mask;
    }
    throw new PageFaultInReader("walk ended");
  }

  /** The leaf entry of `va` (for C-bit checks). */
  leaf(va: bigint, cr3 = this.cr3): bigint {
    const mask = pteAddressMask(this.cBit);
    let table = cr3 & mask;
    for (let level = 4; level >= 1; level--) {
      const e = this.u64p(table + ((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8n);
      if ((e & PTE.P) === 0n) throw new PageFaultInReader(`VA 0x${va.toString(16)} not present`);
      if (level === 1 || (level < 4 && (e & PTE.PS) !== 0n)) return e;
      table = e & mask;
    }
    throw new PageFaultInReader("walk ended");
  }

  /** PA of the leaf page-table entry that maps `va`. */
  leafEntryPa(va: bigint, cr3 = this.cr3): bigint {
    const mask = pteAddressMask(this.cBit);
    let table = cr3 & mask;
    for (let level = 4; level >= 1; level--) {
      const at = table + ((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8n;
      const e = this.u64p(at);
      if ((e & PTE.P) === 0n) throw new PageFaultInReader(`VA 0x${va.toString(16)} not present`);
      if (level === 1 || (level < 4 && (e & PTE.PS) !== 0n)) return at;
      table = e & mask;
    }
    throw new PageFaultInReader("walk ended");
  }

  u64p(pa: bigint): bigint {
    const b = this.mem.read(pa, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  read(va: bigint, len: number, cr3 = this.cr3): Uint8Array {
    const out = new Uint8Array(len);
    let o = 0;
    let v = va;
    while (o < len) {
      const n = Math.min(len - o, 4096 - Number(v & 0xfffn));
      out.set(this.mem.read(this.translate(v, cr3), n), o);
      o += n;
      v += BigInt(n);
    }
    return out;
  }
  u64(va: bigint): bigint {
    const b = this.read(va, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }
  u32(va: bigint): number {
    const b = this.read(va, 4);
    return new DataView(b.buffer).getUint32(0, true);
  }
  i32(va: bigint): number {
    const b = this.read(va, 4);
    return new DataView(b.buffer).getInt32(0, true);
  }
  str(va: bigint, max: number): string {
    const b = this.read(va, max);
    const end = b.indexOf(0);
    return Buffer.from(b.subarray(0, end < 0 ? max : end)).toString("latin1");
  }

  gate(vector: number): { handler: bigint; ist: number; dpl: number; type: number; present: boolean; selector: number } {
    const b = this.read(this.idtBase + BigInt(vector * 16), 16);
    const dv = new DataView(b.buffer);
    const bits = dv.getUint16(4, true);
    return {
      handler: BigInt(dv.getUint16(0, true)) | (BigInt(dv.getUint16(6, true)) << 16n) | (BigInt(dv.getUint32(8, true)) << 32n),
      selector: dv.getUint16(2, true),
      ist: bits & 7,
      type: (bits >> 8) & 0x1f,
      dpl: (bits >> 13) & 3,
      present: (bits >> 15) === 1,
    };
  }

  /** Walks a list_head from `head`, returning node addresses (bounded). */
  list(head: bigint, max = 20000): bigint[] {
    const out: bigint[] = [];
    const next = this.off("list_head", "next");
    let n = this.u64(head + next);
    while (n !== head) {
      if (out.length >= max) throw new Error("list too long (cycle?)");
      out.push(n);
      n = this.u64(n + next);
    }
    return out;
  }

  task(va: bigint): RTask {
    const o = (m: string): bigint => va + this.off("task_struct", m);
    const parent = this.u64(o("real_parent"));
    const cred = this.u64(o("cred"));
    const mm = this.u64(o("mm"));
    let dtb: bigint | null = null;
    if (mm !== 0n) dtb = this.translate(this.u64(mm + this.off("mm_struct", "pgd")));
    return {
      va,
      pid: this.i32(o("pid")),
      tgid: this.i32(o("tgid")),
      comm: this.str(o("comm"), 16),
      ppid: parent === va ? 0 : this.i32(parent + this.off("task_struct", "tgid")),
      uid: this.u32(cred + this.off("cred", "uid")),
      euid: this.u32(cred + this.off("cred", "euid")),
      mm,
      dtb,
      state: this.u32(o("__state")),
    };
  }

  /** pslist: init_task and the tasks list. */
  tasks(): RTask[] {
    const init = this.sym("init_task");
    const tasksOff = this.off("task_struct", "tasks");
    return [init, ...this.list(init + tasksOff).map((n) => n - tasksOff)].map((t) => this.task(t));
  }

  modules(): RModule[] {
    const listOff = this.off("module", "list");
    return this.list(this.sym("modules")).map((n) => {
      const m = n - listOff;
      return {
        va: m,
        name: this.str(m + this.off("module", "name"), 56),
        base: this.u64(m + this.off("module", "core_layout.base")),
        size: this.u32(m + this.off("module", "core_layout.size")),
        textSize: this.u32(m + this.off("module", "core_layout.text_size")),
        refcnt: this.u32(m + this.off("module", "refcnt")),
        sigOk: this.read(m + this.off("module", "sig_ok"), 1)[0] !== 0,
        taints: this.u64(m + this.off("module", "taints")),
      };
    });
  }

  /** The procfs tree under `root` (proc_root or a namespace's proc_net), breadth first. */
  procTree(root: bigint): RProcEntry[] {
    const o = (m: string): bigint => this.off("proc_dir_entry", m);
    const out: RProcEntry[] = [];
    const cmp = (a: string, b: string): number => (a.length !== b.length ? a.length - b.length : Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
    let level: { va: bigint; path: string }[] = [{ va: root, path: "" }];
    while (level.length > 0) {
      const next: typeof level = [];
      for (const { va, path } of level) {
        const children: bigint[] = [];
        const visit = (n: bigint, depth: number): void => {
          if (n === 0n) return;
          if (depth > 64) throw new Error("procfs rb-tree too deep");
          visit(this.u64(n + this.off("rb_node", "rb_left")), depth + 1);
          children.push(n - o("subdir_node"));
          visit(this.u64(n + this.off("rb_node", "rb_right")), depth + 1);
        };
        visit(this.u64(va + o("subdir")), 0);
        const name = this.str(this.u64(va + o("name")), 256);
        const names = children.map((c) => this.str(this.u64(c + o("name")), 256));
        out.push({
          va,
          path,
          name,
          namelen: this.read(va + o("namelen"), 1)[0]!,
          mode: this.read(va + o("mode"), 2).reduce((acc, x, i) => acc | (x << (8 * i)), 0),
          nlink: this.u32(va + o("nlink")),
          lowIno: this.u32(va + o("low_ino")),
          parent: this.u64(va + o("parent")),
          iops: this.u64(va + o("proc_iops")),
          ops: this.u64(va + o("proc_ops")),
          dops: this.u64(va + o("proc_dops")),
          seqOps: this.u64(va + o("seq_ops")),
          data: this.u64(va + o("data")),
          children,
          ordered: names.every((n, i) => i === 0 || cmp(names[i - 1]!, n) < 0),
        });
        children.forEach((c, i) => next.push({ va: c, path: path === "" ? names[i]! : `${path}/${names[i]!}` }));
      }
      level = next;
    }
    return out;
  }

  /** /sys/module: kobject names in module_kset's list, with mkobj.mod when it is a module. */
  ksetEntries(): { name: string; mod: bigint }[] {
    const kset = this.u64(this.sym("module_kset"));
    const entry = this.off("kobject", "entry");
    return this.list(kset + this.off("kset", "list")).map((n) => {
      const kobj = n - entry;
      const mkobj = kobj - this.off("module_kobject", "kobj");
      return { name: this.str(this.u64(kobj + this.off("kobject", "name")), 64), mod: this.u64(mkobj + this.off("module_kobject", "mod")) };
    });
  }

  syscallTable(n = 451): bigint[] {
    const t = this.sym("sys_call_table");
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) out.push(this.u64(t + BigInt(i * 8)));
    return out;
  }

  perCpuOffset(cpu: number): bigint {
    return this.u64(this.sym("__per_cpu_offset") + BigInt(cpu * 8));
  }

  /** The pids in init_pid_ns.idr (xarray walk). */
  idrPids(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    const xa = this.sym("init_pid_ns") + this.off("pid_namespace", "idr") + this.off("idr", "idr_rt");
    const head = this.u64(xa + this.off("xarray", "xa_head"));
    const walk = (entry: bigint, base: number): void => {
      if (entry === 0n) return;
      if ((entry & 3n) === 2n && entry > 4096n) {
        const node = entry & ~3n;
        const shift = this.read(node + this.off("xa_node", "shift"), 1)[0]!;
        for (let i = 0; i < 64; i++) walk(this.u64(node + this.off("xa_node", "slots") + BigInt(i * 8)), base + (i << shift));
        return;
      }
      out.set(base, entry);
    };
    walk(head, 0);
    return out;
  }

  /** Runnable sched_entities of a CPU's CFS tree (in order) and rq->curr. */
  runqueue(cpu: number): { curr: bigint; nrRunning: number; queued: bigint[] } {
    const rq = this.perCpuOffset(cpu) + this.p.requireSymbol("runqueues");
    const cfs = rq + this.off("rq", "cfs");
    const root = this.u64(cfs + this.off("cfs_rq", "tasks_timeline") + this.off("rb_root_cached", "rb_root.rb_node"));
    const queued: bigint[] = [];
    const seRun = this.off("task_struct", "se") + this.off("sched_entity", "run_node");
    const visit = (n: bigint, depth: number): void => {
      if (n === 0n || depth > 64) return;
      visit(this.u64(n + this.off("rb_node", "rb_left")), depth + 1);
      queued.push(n - seRun);
      visit(this.u64(n + this.off("rb_node", "rb_right")), depth + 1);
    };
    visit(root, 0);
    return { curr: this.u64(rq + this.off("rq", "curr")), nrRunning: this.u32(rq + this.off("rq", "nr_running")), queued };
  }

  /** VMAs from mm->mm_mt (a single maple_leaf_64 root). */
  vmas(mm: bigint): RVma[] {
    const root = this.u64(mm + this.off("mm_struct", "mm_mt") + this.off("maple_tree", "ma_root"));
    if ((root & 2n) !== 2n || ((root >> 3n) & 0xfn) !== 1n) throw new Error(`unexpected maple root 0x${root.toString(16)}`);
    const node = root & ~0xffn;
    const slot = this.off("maple_range_64", "slot");
    const piv = this.off("maple_range_64", "pivot");
    const end = this.read(node + slot + 15n * 8n, 1)[0]!;
    const out: RVma[] = [];
    for (let i = 0; i <= Math.min(end, 15); i++) {
      const v = this.u64(node + slot + BigInt(i * 8));
      void piv;
      if (v === 0n) continue;
      out.push({
        start: this.u64(v + this.off("vm_area_struct", "vm_start")),
        end: this.u64(v + this.off("vm_area_struct", "vm_end")),
        flags: this.u64(v + this.off("vm_area_struct", "vm_flags")),
        file: this.u64(v + this.off("vm_area_struct", "vm_file")),
      });
    }
    return out;
  }

  /** Open files: fd → (dentry name, f_op). */
  files(task: bigint): { fd: number; name: string; fop: bigint }[] {
    const files = this.u64(task + this.off("task_struct", "files"));
    const fdt = this.u64(files + this.off("files_struct", "fdt"));
    const max = this.u32(fdt + this.off("fdtable", "max_fds"));
    const fdArr = this.u64(fdt + this.off("fdtable", "fd"));
    const out: { fd: number; name: string; fop: bigint }[] = [];
    for (let i = 0; i < max; i++) {
      const f = this.u64(fdArr + BigInt(i * 8));
      if (f === 0n) continue;
      const d = this.u64(f + this.off("file", "f_path.dentry"));
      out.push({ fd: i, name: this.str(this.u64(d + this.off("dentry", "d_name.name")), 64), fop: this.u64(f + this.off("file", "f_op")) });
    }
    return out;
  }
}
