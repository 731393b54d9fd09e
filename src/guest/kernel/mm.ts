/**
 * User address spaces: mm_struct, a PGD whose kernel half (entries 256–511) repeats
 * init_top_pgt's, page tables for the user half, the VMAs of an ELF process (header,
 * text, rodata, relro, data, bss, heap, stack, vvar, vdso — the layout of the busybox
 * processes in the fixture) kept as Linux 6.1 keeps them: in mm->mm_mt, a maple tree whose
 * single leaf (maple_leaf_64, a struct maple_range_64) holds the VMAs and the gaps between
 * them. Only a few pages are present (demand paging): the binary's first pages (shared),
 * the first data, heap and stack pages (private; the stack page holds argv and envp), and
 * the vdso (shared).
 */
import type { Kernel } from "../model/kernel.js";
import type { Cred, MappedPage, Mm, OpenFile, Vma } from "../model/types.js";
import { PageTableTree, PAGE_TABLE, PAGE_USER_RO, PAGE_USER_RW, PAGE_USER_RX } from "../mem/page-tables.js";
import { StructBuf } from "../mem/kmem.js";
import { codeBytes } from "./text.js";
import { newFile, O_RDONLY, writeFileCount } from "./files.js";
import { realTable, refVa } from "./static-data.js";
import { PTE } from "../../shared/spec/index.js";

const PAGE = 0x1000n;
const ULONG_MAX = (1n << 64n) - 1n;
/** TASK_SIZE_MAX for 4-level paging. */
export const TASK_SIZE = 0x7ffffffff000n;
/** maple tree: MAPLE_ENODE_NULL (bit 2), type << 3, MAPLE_ROOT_NODE (bit 1), leaf type. */
const MAPLE_ENODE_NULL = 0x4n;
const MAPLE_ROOT_NODE = 0x2n;
const MAPLE_LEAF_64 = 1n;
const MA_ROOT_PARENT = 1n;
/** MM_MT_FLAGS (ALLOC_RANGE | LOCK_EXTERN) | USE_RCU | height 1 — as the fixture's mms hold. */
export const MM_MT_FLAGS_HEIGHT1 = 0x307;
const MAPLE_RANGE64_SLOTS = 16;

/** vm_flags values of the fixture's busybox VMAs. */
export const VMF = {
  HDR: 0x8000071n,
  TEXT: 0x8000075n,
  RODATA: 0x8000071n,
  RELRO: 0x8100071n,
  DATA: 0x8100073n,
  ANON: 0x8100073n,
  STACK: 0x100173n,
  VVAR: 0xc044411n,
  VDSO: 0x8040075n,
} as const;
const VM_EXEC = 0x4n;
const VM_WRITE = 0x2n;

export interface BinarySpec {
  readonly name: string;
  readonly path: string;
  /** Pages of each segment after the one-page ELF header. */
  readonly text: number;
  readonly rodata: number;
  readonly relro: number;
  readonly data: number;
  readonly bss: number;
}

export const BINARIES: Readonly<Record<string, BinarySpec>> = {
  busybox: { name: "busybox", path: "/bin/busybox", text: 0x184, rodata: 0x56, relro: 7, data: 3, bss: 7 },
  sshd: { name: "sshd", path: "/usr/sbin/sshd", text: 0xd0, rodata: 0x40, relro: 5, data: 2, bss: 4 },
  nginx: { name: "nginx", path: "/usr/sbin/nginx", text: 0x120, rodata: 0x50, relro: 6, data: 3, bss: 5 },
  python3: { name: "python3", path: "/usr/bin/python3", text: 0x2a0, rodata: 0x110, relro: 9, data: 8, bss: 6 },
  postgres: { name: "postgres", path: "/usr/lib/postgresql/bin/postgres", text: 0x3a0, rodata: 0x120, relro: 12, data: 6, bss: 10 },
  cron: { name: "cron", path: "/usr/sbin/cron", text: 0x20, rodata: 0x8, relro: 1, data: 1, bss: 2 },
  bash: { name: "bash", path: "/bin/bash", text: 0xd8, rodata: 0x30, relro: 4, data: 3, bss: 6 },
};

const ENV = ["HOME=/", "TERM=linux", "PATH=/sbin:/usr/sbin:/bin:/usr/bin"];

function protFor(k: Kernel, flags: bigint): bigint {
  // protection_map[]: private mappings are copy-on-write (never RW); NX unless VM_EXEC; C-bit.
  return PTE.P | PTE.US | PTE.A | ((flags & VM_EXEC) === 0n ? PTE.NX : 0n) | k.addr.cMask;
}

function sharedPage(k: Kernel, key: string, fill: () => Uint8Array): bigint {
  let pa = k.sharedUserPages.get(key);
  if (pa === undefined) {
    pa = k.page();
    k.mem.write(k.addr.dmap(pa), fill());
    k.sharedUserPages.set(key, pa);
  }
  return pa;
}

export interface NewMm {
  readonly binary: BinarySpec;
  readonly argv: readonly string[];
  readonly cred: Cred;
  readonly ownerVa: bigint;
}

/** Builds and writes a whole address space; returns the model's record of it. */
export function createMm(k: Kernel, n: NewMm): Mm {
  const t = k.t;
  const rng = k.rng;
  const b = n.binary;
  const mmVa = k.alloc("mm_struct");
  const pgd = new PageTableTree(k.tableEnv, k.page());
  // The kernel half: the same PGD entries as init_top_pgt (clone_pgd_range).
  for (const [idx, v] of k.kpt.rootEntries) if (idx >= 256) pgd.setRootEntry(idx, v);

  const exeFile = newFile(k, b.path, "ramfs_file_operations", refVa(k, fopsRef("ramfs_file_operations")), O_RDONLY, n.cred);
  const start = 0x400000n;
  const seg = (pages: number): bigint => BigInt(pages) * PAGE;
  const hdrEnd = start + PAGE;
  const textEnd = hdrEnd + seg(b.text);
  const rodataEnd = textEnd + seg(b.rodata);
  const relroEnd = rodataEnd + seg(b.relro);
  const dataEnd = relroEnd + seg(b.data);
  const bssEnd = dataEnd + seg(b.bss);
  // ASLR (randomize_va_space = 2): brk within 32 MiB, stack top in the upper region, vdso near it.
  const brk = bssEnd + (rng.bigint(0x2000n) + 1n) * PAGE;
  const heapEnd = brk + 0x22n * PAGE;
  const stackTop = (0x7ffc00000000n + rng.bigint(0x300000000n >> 12n) * PAGE) & ~0xfn;
  const stackStart = stackTop - 0x21n * PAGE;
  const vvar = stackTop + (rng.bigint(0x60n) + 0x20n) * PAGE;
  const vdso = vvar + 4n * PAGE;
  const vdsoEnd = vdso + 2n * PAGE;

  const vma = (s: bigint, e: bigint, flags: bigint, file: OpenFile | null, pgoff: bigint, name: string, special?: string): Vma => ({
    va: k.alloc("vm_area_struct"),
    start: s,
    end: e,
    flags,
    file,
    pgoff,
    name,
    ...(special !== undefined ? { special } : {}),
  });
  const vmas: Vma[] = [
    vma(start, hdrEnd, VMF.HDR, exeFile, 0n, "hdr"),
    vma(hdrEnd, textEnd, VMF.TEXT, exeFile, 1n, "text"),
    vma(textEnd, rodataEnd, VMF.RODATA, exeFile, (textEnd - start) / PAGE, "rodata"),
    vma(rodataEnd, relroEnd, VMF.RELRO, exeFile, (rodataEnd - start) / PAGE, "relro"),
    vma(relroEnd, dataEnd, VMF.DATA, exeFile, (relroEnd - start) / PAGE, "data"),
    vma(dataEnd, bssEnd, VMF.ANON, null, 0n, "bss"),
    vma(brk, heapEnd, VMF.ANON, null, 0n, "heap"),
    vma(stackStart, stackTop, VMF.STACK, null, 0n, "stack"),
    vma(vvar, vdso, VMF.VVAR, null, 0n, "vvar", "vvar_mapping"),
    vma(vdso, vdsoEnd, VMF.VDSO, null, 0n, "vdso", "vdso_mapping"),
  ];
  exeFile.refs += 1 + vmas.filter((v) => v.file === exeFile).length;
  writeFileCount(k, exeFile);

  // Present pages.
  const pages: MappedPage[] = [];
  const map = (va: bigint, pa: bigint, flags: bigint, owned: boolean): void => {
    pgd.map(va, pa, "4k", flags, { tableFlags: PAGE_TABLE });
    pages.push({ va, pa, owned, flags });
  };
  map(start, sharedPage(k, `${b.name}:hdr`, () => codeBytes(`user/${b.name}`, 0, 4096)), PAGE_USER_RO, false);
  map(hdrEnd, sharedPage(k, `${b.name}:text0`, () => codeBytes(`user/${b.name}`, 4096, 4096)), PAGE_USER_RX, false);
  const priv = (va: bigint, content?: Uint8Array): void => {
    const pa = k.page();
    if (content !== undefined) k.mem.write(k.addr.dmap(pa), content);
    map(va, pa, PAGE_USER_RW, true);
  };
  priv(relroEnd);
  priv(brk);
  // argv / envp at the top of the stack.
  const argBytes = Buffer.from(n.argv.join("\0") + "\0", "latin1");
  const envBytes = Buffer.from(ENV.join("\0") + "\0", "latin1");
  const top = new Uint8Array(4096);
  const argOff = 0x800;
  top.set(argBytes, argOff);
  top.set(envBytes, argOff + argBytes.length);
  const topPage = stackTop - PAGE;
  priv(topPage, top);
  map(vdso, sharedPage(k, "vdso", () => codeBytes("vdso", 0, 4096)), PAGE_USER_RX, false);

  const argStart = topPage + BigInt(argOff);
  const argEnd = argStart + BigInt(argBytes.length);
  const envStart = argEnd;
  const envEnd = envStart + BigInt(envBytes.length);
  const startStack = topPage + 0x700n;
  const mapleNodeVa = k.alloc("maple_node");
  const mm: Mm = { va: mmVa, pgd, vmas, mapleNodeVa, pages, binary: b.name, argStart, argEnd, envStart, envEnd, startStack, exeFile };

  for (const v of vmas) writeVma(k, mm, v);
  writeMapleLeaf(k, mm);
  const s = new StructBuf(t.size("mm_struct"));
  const o = (m: Parameters<typeof t.o<"mm_struct">>[1]): number => t.o("mm_struct", m);
  const mt = o("mm_mt");
  s.u64(mt + t.o("maple_tree", "ma_root"), mapleNodeVa | (MAPLE_LEAF_64 << 3n) | MAPLE_ENODE_NULL | MAPLE_ROOT_NODE);
  s.u32(mt + t.o("maple_tree", "ma_flags"), MM_MT_FLAGS_HEIGHT1);
  s.u64(o("mmap_base"), vvar - 0x10000000n);
  s.u64(o("task_size"), TASK_SIZE);
  s.u64(o("pgd"), k.addr.dmap(pgd.rootPa));
  s.u32(o("mm_users"), 1);
  s.u32(o("mm_count"), 1);
  s.i32(o("map_count"), vmas.length);
  s.u64(o("total_vm"), vmas.reduce((a, v) => a + (v.end - v.start) / PAGE, 0n));
  s.u64(o("start_code"), hdrEnd);
  s.u64(o("end_code"), textEnd);
  s.u64(o("start_data"), relroEnd);
  s.u64(o("end_data"), dataEnd);
  s.u64(o("start_brk"), brk);
  s.u64(o("brk"), brk);
  s.u64(o("start_stack"), startStack);
  s.u64(o("arg_start"), argStart);
  s.u64(o("arg_end"), argEnd);
  s.u64(o("env_start"), envStart);
  s.u64(o("env_end"), envEnd);
  s.u64(o("owner"), n.ownerVa);
  s.u64(o("exe_file"), exeFile.va);
  // map_vdso: mm->context.vdso and the image it came from.
  s.u64(o("context.vdso"), vdso);
  const image = k.t.symbolOrUndefined("vdso_image_64");
  if (image !== undefined) s.u64(o("context.vdso_image"), k.addr.kaddr(image));
  k.mem.write(mmVa, s.bytes);
  return mm;
}

function fopsRef(symbol: string): { sym: string; addr: bigint } {
  return { sym: symbol, addr: realTable(symbol).addr };
}

export function writeVma(k: Kernel, mm: Mm, v: Vma): void {
  const t = k.t;
  const b = new StructBuf(t.size("vm_area_struct"));
  b.u64(t.o("vm_area_struct", "vm_start"), v.start);
  b.u64(t.o("vm_area_struct", "vm_end"), v.end);
  b.u64(t.o("vm_area_struct", "vm_mm"), mm.va);
  b.u64(t.o("vm_area_struct", "vm_page_prot"), protFor(k, v.flags));
  b.u64(t.o("vm_area_struct", "vm_flags"), v.flags);
  b.u64(t.o("vm_area_struct", "vm_pgoff"), v.pgoff);
  b.u64(t.o("vm_area_struct", "vm_file"), v.file === null ? 0n : v.file.va);
  if (v.special !== undefined) {
    // _install_special_mapping: the special mapping's vm_ops and its vm_special_mapping.
    const ops = k.t.symbolOrUndefined("special_mapping_vmops");
    const priv = k.t.symbolOrUndefined(v.special);
    if (ops !== undefined) b.u64(t.o("vm_area_struct", "vm_ops"), k.addr.kaddr(ops));
    if (priv !== undefined) b.u64(t.o("vm_area_struct", "vm_private_data"), k.addr.kaddr(priv));
  }
  k.mem.write(v.va, b.bytes);
}

/** The single maple_leaf_64 node: slot i covers (pivot[i-1], pivot[i]]; gaps are NULL slots. */
export function writeMapleLeaf(k: Kernel, mm: Mm): void {
  const t = k.t;
  const ranges: { end: bigint; vma: Vma | null }[] = [];
  let cursor = 0n;
  for (const v of [...mm.vmas].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    if (v.start > cursor) ranges.push({ end: v.start - 1n, vma: null });
    ranges.push({ end: v.end - 1n, vma: v });
    cursor = v.end;
  }
  ranges.push({ end: ULONG_MAX, vma: null });
  if (ranges.length > MAPLE_RANGE64_SLOTS) throw new RangeError(`${ranges.length} maple slots do not fit one leaf`);
  const b = new StructBuf(t.size("maple_node"));
  const mtVa = mm.va + BigInt(t.o("mm_struct", "mm_mt"));
  b.u64(t.o("maple_range_64", "parent"), mtVa | MA_ROOT_PARENT);
  const piv = t.o("maple_range_64", "pivot");
  const slot = t.o("maple_range_64", "slot");
  ranges.forEach((r, i) => {
    if (i < MAPLE_RANGE64_SLOTS - 1) b.u64(piv + i * 8, r.end);
    b.u64(slot + i * 8, r.vma === null ? 0n : r.vma.va);
  });
  // maple_metadata {end, gap} in the last slot when the node is not full.
  if (ranges.length < MAPLE_RANGE64_SLOTS) b.u8(slot + (MAPLE_RANGE64_SLOTS - 1) * 8, ranges.length - 1);
  k.mem.write(mm.mapleNodeVa, b.bytes);
}

/** Frees an address space's objects and private pages (exit_mmap + mmdrop). */
export function freeMm(k: Kernel, mm: Mm): void {
  for (const v of mm.vmas) k.free("vm_area_struct", v.va);
  k.free("maple_node", mm.mapleNodeVa);
  for (const p of mm.pages) if (p.owned) k.pages.free(Number(p.pa));
  for (const tbl of mm.pgd.ownedTables) k.pages.free(Number(tbl));
  k.pages.free(Number(mm.pgd.rootPa));
  k.free("mm_struct", mm.va);
  k.free("filp", mm.exeFile.va);
}

export function isWritable(flags: bigint): boolean {
  return (flags & VM_WRITE) !== 0n;
}
