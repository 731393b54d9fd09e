/**
 * Everything the kernel holds when start_kernel hands over to the scheduler, built into
 * the boot image: kernel text, the kernel page tables (image, direct map, the IDT's
 * cpu_entry_area alias, module area), static data and tables, per-CPU areas and run
 * queues, init_task and the idle tasks, the boot processes, modules and sysfs kobjects,
 * the registered hooks of netfilter, the keyboard notifier chain and /proc.
 */
import { GUEST_LOW_RESERVED_BYTES } from "../../shared/spec/index.js";
import type { Kernel } from "../model/kernel.js";
import { population, type ProcSpec } from "../model/population.js";
import type { FilesStruct, Task } from "../model/types.js";
import { CPU_ENTRY_AREA_RO_IDT, MODULES_VADDR, START_KERNEL_MAP } from "../layout/placement.js";
import { StructBuf, u32Bytes, u64Bytes } from "../mem/kmem.js";
import { KERNPG_TABLE, PAGE_KERNEL, PAGE_KERNEL_RO, PAGE_KERNEL_RX } from "../mem/page-tables.js";
import { KList } from "./klist.js";
import { buildHookPoints, type HookPoints } from "./hook-points.js";
import { buildRootMount, newFile, NR_OPEN_DEFAULT, O_RDWR, writeFileCount, writeFilesStruct, writeFsStruct } from "./files.js";
import { MM_MT_FLAGS_HEIGHT1 } from "./mm.js";
import { addBuiltinKobject, buildModuleKset, BUILTIN_KOBJECTS, loadModule, STOCK_MODULES } from "./modules.js";
import { fopsVa, spawn } from "./process.js";
import { RunQueue } from "./sched.js";
import { writeBanner, writeIdt, writeKaslrVariables, writeStaticTables, writeSyscallTable } from "./static-data.js";
import { makeTask, writeCred, writeTaskState, writeTaskStruct } from "./task.js";
import { kernelTextBytes } from "./text.js";
import { IdrModel } from "./xarray.js";

const MIB2 = 2n << 20n;
/** CONFIG_NR_CPUS of this kernel (config-6.1.0-56-amd64): the length of __per_cpu_offset[]. */
export const NR_CPUS = 8192;
/** GDT descriptors of arch/x86/kernel/cpu/common.c gdt_page (64-bit). */
const GDT = [
  [1, 0x00cf9b000000ffffn], // KERNEL32_CS
  [2, 0x00af9b000000ffffn], // KERNEL_CS 0x10
  [3, 0x00cf93000000ffffn], // KERNEL_DS 0x18
  [4, 0x00cffb000000ffffn], // DEFAULT_USER32_CS 0x23
  [5, 0x00cff3000000ffffn], // DEFAULT_USER_DS 0x2b
  [6, 0x00affb000000ffffn], // DEFAULT_USER_CS 0x33
] as const;
/** The IDT's 256 gates fit one page. */
const IDT_PAGE = 0x1000n;

export interface BootBuild {
  readonly hooks: HookPoints;
}

export function buildKernel(k: Kernel): BootBuild {
  writeKernelText(k);
  buildKernelPageTables(k);
  writeBanner(k);
  writeKaslrVariables(k);
  writeSyscallTable(k);
  writeIdt(k);
  writeStaticTables(k);
  setupPerCpu(k);
  buildInitStructures(k);
  const idle = buildIdleTasks(k);
  for (let c = 0; c < k.cfg.layout.vcpus; c++) {
    const rq = new RunQueue(k, c, idle[c]!);
    rq.writeInitial(k);
    k.rqs.push(rq);
  }
  spawnPopulation(k, idle[0]!);
  buildModuleKset(k);
  for (const name of BUILTIN_KOBJECTS) addBuiltinKobject(k, name);
  for (const m of STOCK_MODULES) loadModule(k, m);
  const hooks = buildHookPoints(k);
  makeInitialRunnable(k);
  return { hooks };
}

function writeKernelText(k: Kernel): void {
  const t = k.t;
  const len = Number(t.sym("_etext") - t.sym("_text"));
  const pages = Math.ceil(len / 4096);
  const chunk = 256;
  for (let p = 0; p < pages; p += chunk) {
    const n = Math.min(chunk, pages - p) * 4096;
    k.mem.write(k.addr.textVa + BigInt(p * 4096), kernelTextBytes(p * 4096, n));
  }
}

function buildKernelPageTables(k: Kernel): void {
  const a = k.addr;
  const t = k.t;
  const kpt = k.kpt;
  kpt.adopt(3, START_KERNEL_MAP, a.imagePa(a.ksym("level3_kernel_pgt")), KERNPG_TABLE);
  kpt.adopt(2, START_KERNEL_MAP, a.imagePa(a.ksym("level2_kernel_pgt")), KERNPG_TABLE);
  kpt.adopt(2, MODULES_VADDR, a.imagePa(a.ksym("level2_fixmap_pgt")), KERNPG_TABLE);
  // The kernel image in 2 MiB pages: text RX, rodata RO, data and bss RW (mark_rodata_ro).
  const rodata = a.ksym("__start_rodata");
  const data = a.ksym("_sdata");
  for (let va = a.textVa; va < a.imageEndVa; va += MIB2) {
    const flags = va < rodata ? PAGE_KERNEL_RX : va < data ? PAGE_KERNEL_RO : PAGE_KERNEL;
    kpt.map(va, a.imagePa(va), "2m", flags);
  }
  // The direct map of guest RAM: 2 MiB pages, except the first 2 MiB in 4 KiB pages so that
  // the guest GHCB pages can be mapped shared (C=0), as set_memory_decrypted leaves them.
  const ghcb = new Set(k.cfg.layout.guestGhcb.map((g) => g as bigint));
  for (let pa = 0n; pa < MIB2; pa += 0x1000n) kpt.map(a.dmap(pa), pa, "4k", PAGE_KERNEL, { shared: ghcb.has(pa) });
  for (let pa = MIB2; pa < k.cfg.layout.guestRamEnd; pa += MIB2) kpt.map(a.dmap(pa), pa, "2m", PAGE_KERNEL);
  // cpu_entry_area: the read-only IDT alias that IDTR points at.
  kpt.map(CPU_ENTRY_AREA_RO_IDT, a.imagePa(a.ksym("idt_table")) & ~(IDT_PAGE - 1n), "4k", PAGE_KERNEL_RO);
  void t;
}

function setupPerCpu(k: Kernel): void {
  const t = k.t;
  const a = k.addr;
  const size = Number(t.sym("__per_cpu_end") - t.sym("__per_cpu_start"));
  const unit = Math.ceil((size + 0x8000) / 0x10000) * 0x10000;
  const vcpus = k.cfg.layout.vcpus;
  const block = BigInt(k.pages.contiguous((unit / 4096) * vcpus, 512));
  const offsets = new StructBuf(NR_CPUS * 8);
  const load = a.ksym("__per_cpu_load");
  for (let c = 0; c < NR_CPUS; c++) {
    if (c < vcpus) {
      const base = a.dmap(block + BigInt(c * unit)) - t.sym("__per_cpu_start");
      k.perCpuBase.push(base);
      offsets.u64(c * 8, base);
    } else offsets.u64(c * 8, load);
  }
  k.mem.write(a.ksym("__per_cpu_offset"), offsets.bytes);
  writeCpuMasks(k);
  const thisCpuOff = t.symbolOrUndefined("this_cpu_off");
  const cpuNumber = t.symbolOrUndefined("cpu_number");
  for (let c = 0; c < vcpus; c++) {
    if (thisCpuOff !== undefined) k.mem.write(k.percpu(c, thisCpuOff), u64Bytes(k.perCpuBase[c]!));
    if (cpuNumber !== undefined) k.mem.write(k.percpu(c, cpuNumber), new StructBuf(4).u32(0, c).bytes);
    const gdt = new StructBuf(16 * 8);
    for (const [i, d] of GDT) gdt.u64(i * 8, d);
    // TSS descriptor (entry 8, 16 bytes): base = this CPU's cpu_tss_rw, limit 0x4087, type 0x89.
    const tss = k.percpu(c, t.sym("cpu_tss_rw"));
    const lo = 0x4087n | ((tss & 0xffffffn) << 16n) | (0x89n << 40n) | (((tss >> 24n) & 0xffn) << 56n);
    gdt.u64(8 * 8, lo);
    gdt.u64(9 * 8, (tss >> 32n) & 0xffffffffn);
    k.mem.write(k.percpu(c, t.sym("gdt_page")), gdt.bytes);
  }
}

function buildInitStructures(k: Kernel): void {
  const t = k.t;
  const a = k.addr;
  buildRootMount(k);
  k.initCred = { va: a.ksym("init_cred"), uid: 0, gid: 0, euid: 0, egid: 0, refs: 1 };
  writeCred(k, k.initCred);
  const initFiles: FilesStruct = { va: a.ksym("init_files"), isStatic: true, fds: new Array(NR_OPEN_DEFAULT).fill(null), refs: 1 };
  writeFilesStruct(k, initFiles);
  k.initFiles = initFiles;
  writeFsStruct(k, a.ksym("init_fs"), 1);
  k.consoleFile = newFile(k, "/dev/console", "console_fops", fopsVa(k, "console_fops"), O_RDWR, k.initCred);
  k.consoleFile.refs = 1;
  writeFileCount(k, k.consoleFile);
  // init_nsproxy
  const ns = new StructBuf(t.sizeOfAny("nsproxy"));
  ns.u32(t.o("nsproxy", "count"), 1);
  ns.u64(t.o("nsproxy", "uts_ns"), a.ksym("init_uts_ns"));
  ns.u64(t.o("nsproxy", "ipc_ns"), a.ksym("init_ipc_ns"));
  ns.u64(t.o("nsproxy", "pid_ns_for_children"), a.ksym("init_pid_ns"));
  ns.u64(t.o("nsproxy", "net_ns"), a.ksym("init_net"));
  ns.u64(t.o("nsproxy", "time_ns"), a.ksym("init_time_ns"));
  ns.u64(t.o("nsproxy", "time_ns_for_children"), a.ksym("init_time_ns"));
  ns.u64(t.o("nsproxy", "cgroup_ns"), a.ksym("init_cgroup_ns"));
  k.mem.write(a.ksym("init_nsproxy"), ns.bytes);
  writeInitNet(k);
  // init_mm: swapper_pg_dir and an empty VMA tree.
  const mm = a.ksym("init_mm");
  k.mem.write(mm + BigInt(t.o("mm_struct", "pgd")), u64Bytes(a.ksym("init_top_pgt")));
  k.mem.write(mm + BigInt(t.o("mm_struct", "mm_users")), new StructBuf(4).u32(0, 2).bytes);
  k.mem.write(mm + BigInt(t.o("mm_struct", "mm_count")), new StructBuf(4).u32(0, 1).bytes);
  k.mem.write(mm + BigInt(t.o("mm_struct", "mm_mt") + t.o("maple_tree", "ma_flags")), new StructBuf(4).u32(0, MM_MT_FLAGS_HEIGHT1 & ~0x7c).bytes);
  // init_pid_ns and its IDR (IDR_RT_MARKER: ROOT_IS_IDR | the root IDR_FREE tag; ROOT_TAG_SHIFT 27 here).
  const pidns = a.ksym("init_pid_ns");
  k.idr = new IdrModel(
    {
      t,
      allocNode: () => k.alloc("radix_tree_node"),
      freeNode: (va) => k.free("radix_tree_node", va),
    },
    pidns + BigInt(t.o("pid_namespace", "idr")),
    { xaFlags: 0x8000004, next: 1 },
  );
  k.idr.writeHeader(k.mem);
  k.mem.write(pidns + BigInt(t.o("pid_namespace", "level")), new StructBuf(4).u32(0, 0).bytes);
  const isp = t.symbolOrUndefined("init_struct_pid");
  if (isp !== undefined) {
    const p = a.kaddr(isp);
    const b = new StructBuf(t.size("pid") + t.size("upid"));
    b.u32(t.o("pid", "count"), 1);
    b.u64(t.o("pid", "numbers") + t.o("upid", "ns"), pidns);
    k.mem.write(p, b.bytes);
  }
  k.taskList = new KList(a.ksym("init_task") + BigInt(t.o("task_struct", "tasks")), t.o("list_head", "next"), t.o("list_head", "prev"));
}

/**
 * init_net as net_ns_init/setup_net leave it: on net_namespace_list (list_add_tail_rcu of
 * &net->list), its ns_common (inum, &netns_operations, count), passive count and owning
 * user namespace (the fixture's values). Its netfilter hooks and /proc/net come with the
 * hook points.
 */
function writeInitNet(k: Kernel): void {
  const t = k.t;
  const a = k.addr;
  const net = a.ksym("init_net");
  const list = new KList(a.ksym("net_namespace_list"), t.o("list_head", "next"), t.o("list_head", "prev"));
  list.init(k.mem);
  list.addTail(k.mem, net + BigInt(t.o("net", "list")));
  const at = (m: Parameters<typeof t.o<"net">>[1]): bigint => net + BigInt(t.o("net", m));
  k.mem.write(at("passive"), u32Bytes(2));
  k.mem.write(at("ns.count"), u32Bytes(2));
  k.mem.write(at("ns.inum"), u32Bytes(PROC_NET_INIT_INUM));
  k.mem.write(at("ns.ops"), u64Bytes(a.ksym("netns_operations")));
  k.mem.write(at("user_ns"), u64Bytes(a.ksym("init_user_ns")));
}

/** init_net's ns.inum on the fixture kernel (the first inode number proc_alloc_inum hands out). */
const PROC_NET_INIT_INUM = 0xf0000000;

/**
 * The CPU masks as smp_init leaves them with every vCPU brought up: possible, present,
 * online and active hold CPUs 0..vcpus-1 (cpumask bits in unsigned longs), and
 * __num_online_cpus counts them. nr_cpu_ids is written with the KASLR variables.
 */
function writeCpuMasks(k: Kernel): void {
  const a = k.addr;
  const n = k.cfg.layout.vcpus;
  const bits = new Array<bigint>(Math.ceil(n / 64)).fill(0n);
  for (let c = 0; c < n; c++) bits[c >> 6] = bits[c >> 6]! | (1n << BigInt(c & 63));
  const words = new StructBuf(bits.length * 8);
  bits.forEach((w, i) => words.u64(i * 8, w));
  for (const m of ["__cpu_possible_mask", "__cpu_present_mask", "__cpu_online_mask", "__cpu_active_mask"] as const) k.mem.write(a.ksym(m), words.bytes);
  k.mem.write(a.ksym("__num_online_cpus"), u32Bytes(n));
}

function initStructPid(k: Kernel): bigint {
  const isp = k.t.symbolOrUndefined("init_struct_pid");
  return isp === undefined ? 0n : k.addr.kaddr(isp);
}

function buildIdleTasks(k: Kernel): Task[] {
  const out: Task[] = [];
  for (let c = 0; c < k.cfg.layout.vcpus; c++) {
    const va = c === 0 ? k.addr.ksym("init_task") : k.alloc("task_struct");
    const task = makeTask(k, {
      va,
      kind: "idle",
      pid: 0,
      comm: `swapper/${c}`,
      argv: [],
      parent: c === 0 ? null : out[0]!,
      cred: k.initCred,
      cpu: c,
      state: "R",
      pidVa: initStructPid(k),
      filesVa: k.initFiles,
      fsVa: k.addr.ksym("init_fs"),
      pinned: true,
    });
    task.phase = "live";
    writeTaskStruct(k, task);
    k.addTask(task);
    k.idle.push(task);
    out.push(task);
  }
  return out;
}

function spawnPopulation(k: Kernel, swapper: Task): void {
  const specs: ProcSpec[] = population(k.cfg.layout.vcpus, k.cfg.processes, k.rng.fork("population"));
  const made: Task[] = [];
  let rr = 0;
  specs.forEach((s, i) => {
    const parent = s.parent < 0 ? swapper : made[s.parent]!;
    const cpu = (s.cpu ?? rr++) % k.cfg.layout.vcpus;
    made.push(spawn(k, { spec: s, parent, cpu, pid: i + 1 }));
  });
  // init is the pid namespace's child reaper.
  const pidns = k.addr.ksym("init_pid_ns");
  k.mem.write(pidns + BigInt(k.t.o("pid_namespace", "child_reaper")), u64Bytes(made[0]!.va));
}

/** A few user processes per CPU start runnable (state R, on the CFS tree). */
function makeInitialRunnable(k: Kernel): void {
  const rng = k.rng.fork("initial-runnable");
  for (const rq of k.rqs) {
    const mine = [...k.tasks.values()].filter((x) => x.kind === "user" && x.cpu === rq.cpu);
    const want = Math.min(mine.length, 2 + rng.int(3));
    for (let i = 0; i < want; i++) {
      const task = mine.splice(rng.int(mine.length), 1)[0]!;
      task.state = "R";
      task.se.key = BigInt(rng.int(1_000_000));
      writeTaskState(k, task);
      rq.enqueue(k, task);
    }
  }
}

/** Guest RAM not available to the model's allocator (for accounting). */
export function reservedLowBytes(): bigint {
  return GUEST_LOW_RESERVED_BYTES;
}
