/**
 * The kernel model's state: where everything is, the allocators, and the mirrors of the
 * linked structures it keeps in guest memory. Builders (src/guest/kernel/*) write through
 * `k.mem`, which is the boot image while booting and an instruction recorder afterwards.
 */
import { SeededRng, invariant } from "../../shared/base/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { GUEST_LOW_RESERVED_BYTES } from "../../shared/spec/index.js";
import { GuestError } from "../errors.js";
import type { KernelTypes } from "../kernel-info.js";
import { Addressing } from "../layout/addressing.js";
import { placeKernel, type KernelPlacement } from "../layout/placement.js";
import { KList } from "../kernel/klist.js";
import type { IdrModel } from "../kernel/xarray.js";
import { BootMem, type KMem } from "../mem/kmem.js";
import { PageImage } from "../mem/page-image.js";
import { ObjectCache, PageAllocator } from "../mem/phys-alloc.js";
import { PageTableTree, type TableEnv } from "../mem/page-tables.js";
import type { RunQueue } from "../kernel/sched.js";
import type { BuiltinKobject, Cred, Dentry, FilesStruct, HookCode, HookRecord, KernelModule, OpenFile, Task } from "./types.js";

export interface KernelConfig {
  readonly seed: string;
  readonly kaslr: boolean;
  /** Thread-group leaders in the task list at boot (kernel threads included). */
  readonly processes: number;
  readonly layout: SevenLayout;
  readonly cBit: number;
}

/** Guest RAM kept free for slab objects and page tables per process at boot. */
export const BYTES_PER_PROCESS = 64n * 1024n;

export type CacheName =
  | "task_struct" | "cred" | "mm_struct" | "vm_area_struct" | "maple_node" | "files_struct" | "filp" | "dentry"
  | "fs_struct" | "pid" | "radix_tree_node" | "kmalloc-64" | "kmalloc-128" | "kmalloc-512" | "mnt_cache" | "kmalloc-256"
  | "proc_dir_entry";

/** fs/proc/internal.h SIZEOF_PDE: proc_dir_entry_cache objects, room for a short name inline. */
export function sizeofPde(pde: number): number {
  return pde < 128 ? 128 : pde < 192 ? 192 : pde < 256 ? 256 : 512;
}

export class Kernel {
  readonly cfg: KernelConfig;
  readonly t: KernelTypes;
  readonly p: KernelPlacement;
  readonly addr: Addressing;
  readonly rng: SeededRng;
  readonly image = new PageImage();
  readonly bootMem: BootMem;
  /** Where builders write: the boot image, or the current instruction recorder. */
  mem: KMem;
  readonly pages: PageAllocator;
  readonly #caches = new Map<CacheName, ObjectCache>();
  readonly kpt: PageTableTree;
  readonly tableEnv: TableEnv;

  // -- mirrors of in-memory structures (filled by the builders)
  readonly tasks = new Map<number, Task>();
  /** Live tasks by pid (idle tasks excluded). */
  readonly byPid = new Map<number, Task>();
  taskList!: KList;
  readonly childLists = new Map<number, KList>();
  idr!: IdrModel;
  readonly rqs: RunQueue[] = [];
  readonly idle: Task[] = [];
  moduleList!: KList;
  ksetList!: KList;
  moduleKsetVa = 0n;
  readonly modules: KernelModule[] = [];
  readonly builtins: BuiltinKobject[] = [];
  readonly hooks: HookRecord[] = [];
  /** Rootkit code by entry address (what runs when control reaches it). */
  readonly hookCode = new Map<bigint, HookCode>();
  /** Kernel text patched with a jump: function entry → hook entry. */
  readonly textJumps = new Map<bigint, bigint>();
  /** sys_call_table entries and IDT gates a rootkit replaced (nr / vector → handler). */
  readonly syscallOverrides = new Map<number, bigint>();
  readonly idtOverrides = new Map<number, bigint>();
  /** LSTAR per vCPU as the guest last programmed it. */
  readonly lstar: bigint[] = [];
  initCred!: Cred;
  initFiles!: FilesStruct;
  rootDentry!: Dentry;
  readonly dentries = new Map<string, Dentry>();
  consoleFile!: OpenFile;
  mountVa = 0n;
  readonly perCpuBase: bigint[] = [];
  /** Shared user pages: binary header/text pages and the vdso (PA by key). */
  readonly sharedUserPages = new Map<string, bigint>();
  nextTaskId = 0;
  /** Next free VA of the module area (0: start at placement.moduleBase). */
  moduleCursor = 0n;
  /** tainted_mask as the model last wrote it (module taints add to it). */
  taintedMask = 0n;
  /** The model's clock for start_time (ns since boot). */
  clockNs = 0n;
  pidMax = 32768;

  constructor(cfg: KernelConfig, t: KernelTypes) {
    this.cfg = cfg;
    this.t = t;
    this.rng = new SeededRng(cfg.seed).fork("guest/kernel");
    this.p = placeKernel({
      seed: cfg.seed,
      kaslr: cfg.kaslr,
      textSym: t.sym("_text"),
      endSym: t.sym("_end"),
      guestRamEnd: cfg.layout.guestRamEnd,
      reserveBytes: reserveFor(cfg),
    });
    this.addr = new Addressing(t, this.p, cfg.cBit, cfg.layout.memoryBytes);
    this.bootMem = new BootMem(this.image, (va) => this.addr.toPa(va));
    this.mem = this.bootMem;
    const imageEnd = this.p.physText + this.p.imageBytes;
    this.pages = new PageAllocator([
      { start: Number(imageEnd), end: Number(cfg.layout.guestRamEnd) },
      { start: Number(GUEST_LOW_RESERVED_BYTES), end: Number(this.p.physText) },
    ]);
    this.pidMax = Math.min(Math.max(32768, 1024 * cfg.layout.vcpus), 4194304);
    const self = this;
    this.tableEnv = {
      get mem(): KMem {
        return self.mem;
      },
      cMask: this.addr.cMask,
      dmap: (pa) => this.addr.dmap(pa),
      allocTable: () => this.page(),
    };
    this.kpt = new PageTableTree(this.tableEnv, this.addr.imagePa(this.addr.ksym("init_top_pgt")));
  }

  cache(name: CacheName): ObjectCache {
    let c = this.#caches.get(name);
    if (c === undefined) {
      const sizes: Record<CacheName, number> = {
        task_struct: this.t.size("task_struct"),
        cred: this.t.size("cred"),
        mm_struct: this.t.size("mm_struct"),
        vm_area_struct: this.t.size("vm_area_struct"),
        maple_node: this.t.size("maple_node"),
        files_struct: this.t.size("files_struct"),
        filp: this.t.size("file"),
        dentry: this.t.size("dentry"),
        fs_struct: this.t.size("fs_struct"),
        pid: this.t.size("pid") + this.t.size("upid"),
        radix_tree_node: this.t.size("xa_node"),
        "kmalloc-64": 64,
        "kmalloc-128": 128,
        "kmalloc-256": 256,
        "kmalloc-512": 512,
        mnt_cache: this.t.size("mount"),
        proc_dir_entry: sizeofPde(this.t.size("proc_dir_entry")),
      };
      // maple nodes are 256-byte aligned: the low byte of an encoded node holds type bits.
      c = new ObjectCache(this.pages, name, sizes[name], name === "maple_node" ? 256 : 64);
      this.#caches.set(name, c);
    }
    return c;
  }

  caches(): ObjectCache[] {
    return [...this.#caches.values()];
  }

  /** A slab object: its direct-map VA. */
  alloc(name: CacheName): bigint {
    return this.addr.dmap(this.cache(name).alloc());
  }

  free(name: CacheName, va: bigint): void {
    this.cache(name).free(Number(va - this.p.pageOffsetBase));
  }

  /** A zeroed 4 KiB page (PA); a recycled page is cleared through `mem` (clear_page). */
  page(): bigint {
    const { pa, recycled } = this.pages.pageInfo();
    if (recycled) this.mem.write(this.addr.dmap(pa), new Uint8Array(4096));
    return BigInt(pa);
  }

  /** VA of per-CPU variable `sym` (its per-cpu offset from System.map) on `cpu`. */
  percpu(cpu: number, symOffset: bigint): bigint {
    const base = this.perCpuBase[cpu];
    invariant(base !== undefined, "per-CPU area not set up", { cpu });
    return base + symOffset;
  }

  newTaskId(): number {
    return this.nextTaskId++;
  }

  liveTasks(): Task[] {
    return [...this.tasks.values()].filter((x) => x.kind !== "idle");
  }

  /** Tasks in an array too, for O(1) random picks (swap-remove). */
  readonly taskArr: Task[] = [];
  readonly #taskIdx = new Map<Task, number>();

  addTask(t: Task): void {
    this.tasks.set(t.id, t);
    this.#taskIdx.set(t, this.taskArr.length);
    this.taskArr.push(t);
  }

  removeTask(t: Task): void {
    this.tasks.delete(t.id);
    const i = this.#taskIdx.get(t);
    if (i === undefined) return;
    const last = this.taskArr.pop()!;
    if (last !== t) {
      this.taskArr[i] = last;
      this.#taskIdx.set(last, i);
    }
    this.#taskIdx.delete(t);
  }

  /** Non-idle tasks. */
  get processCount(): number {
    return this.tasks.size - this.idle.length;
  }

  childList(parent: Task): KList {
    let l = this.childLists.get(parent.id);
    if (l === undefined) {
      l = new KList(parent.va + BigInt(this.t.o("task_struct", "children")), this.t.o("list_head", "next"), this.t.o("list_head", "prev"));
      this.childLists.set(parent.id, l);
    }
    return l;
  }
}

function reserveFor(cfg: KernelConfig): bigint {
  const n = BigInt(Math.max(cfg.processes, 1));
  const want = n * BYTES_PER_PROCESS + 8n * 1024n * 1024n + BigInt(cfg.layout.vcpus) * 512n * 1024n;
  if (want > cfg.layout.guestRamEnd) {
    throw new GuestError("GUEST_RAM_TOO_SMALL", `${cfg.processes} processes need about ${want >> 20n} MiB of guest RAM besides the kernel image`, {
      processes: cfg.processes,
      guestRamEnd: cfg.layout.guestRamEnd,
    });
  }
  return want;
}
