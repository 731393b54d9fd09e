/**
 * Generator of `real-kernel-data.generated.ts`: the contents of a few static kernel tables
 * as the real Debian 6.1.0-56-amd64 kernel holds them, read from the `nokaslr-256M` memory
 * image of ../shared/fixtures/linux (a QEMU dump nobody here laid out).
 *
 *   node --import tsx src/guest/data/extract-real-kernel-data.ts > src/guest/data/real-kernel-data.generated.ts
 *
 * (real-kernel-data.test.ts regenerates it and compares, so the committed file cannot drift.)
 *
 * What it reads: sys_call_table (451 entries), idt_table (256 gates), linux_banner,
 * init_uts_ns, the function-pointer tables the guest model writes at their System.map
 * addresses (file_operations of /proc and of the files processes open, tty ldisc ops,
 * tcp4_seq_ops, and every ops table a /proc entry points at), the netfilter hooks of
 * init_net (every family), the loaded modules and the module kset's builtin kobjects
 * (extract-real-modules.ts), and the procfs trees of proc_root and init_net.proc_net
 * (extract-real-proc.ts). Every pointer is stored as the System.map symbol it points to
 * (name and un-slid address, since several static symbols share a name) plus an offset;
 * member names come from the kernel's BTF, so the guest lays the tables out with the
 * profile's offsets. The image was booted with `nokaslr`, so a kernel-image VA maps to PA
 * VA − 0xffffffff80000000 and a direct-map VA to VA − 0xffff888000000000; the module area
 * is read through init_top_pgt.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { loadBtfProfile, parseBtf, parseSystemMap } from "../../shared/kernel/index.js";
import type { Btf } from "../../shared/kernel/index.js";
import { extractModules } from "./extract-real-modules.js";
import { extractProcTrees, type ImageReader } from "./extract-real-proc.js";

const FIXTURES = new URL("../../../../shared/fixtures/linux/", import.meta.url);
const KERNEL_MAP = 0xffffffff80000000n;
const DIRECT_MAP = 0xffff888000000000n;
const MODULES_VADDR = 0xffffffffc0000000n;

/** The generated module's text. */
export function generateRealKernelData(): string {
  const elf = gunzipSync(readFileSync(new URL("nokaslr-256M/vmcore.elf.gz", FIXTURES)));
  const btfBytes = new Uint8Array(readFileSync(new URL("debian-6.1.0-56-amd64/vmlinux.btf", FIXTURES)));
  const mapText = readFileSync(new URL("debian-6.1.0-56-amd64/System.map", FIXTURES), "utf8");
  const btf = parseBtf(btfBytes);
  const map = parseSystemMap(mapText);
  const profile = loadBtfProfile(btfBytes, mapText);

  interface Seg {
    readonly pa: number;
    readonly off: number;
    readonly size: number;
  }
  const segs: Seg[] = [];
  {
    const phoff = Number(elf.readBigUInt64LE(32));
    const phentsize = elf.readUInt16LE(54);
    const phnum = elf.readUInt16LE(56);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (elf.readUInt32LE(o) !== 1) continue;
      segs.push({ off: Number(elf.readBigUInt64LE(o + 8)), pa: Number(elf.readBigUInt64LE(o + 24)), size: Number(elf.readBigUInt64LE(o + 32)) });
    }
  }

  function phys(pa: number, len: number): Buffer {
    for (const s of segs) if (pa >= s.pa && pa + len <= s.pa + s.size) return elf.subarray(s.off + pa - s.pa, s.off + pa - s.pa + len);
    throw new Error(`PA 0x${pa.toString(16)} is not in the image`);
  }
  function read(va: bigint, len: number): Buffer {
    if (va >= KERNEL_MAP && va < MODULES_VADDR) return phys(Number(va - KERNEL_MAP), len);
    if (va >= DIRECT_MAP && va < DIRECT_MAP + (1n << 40n)) return phys(Number(va - DIRECT_MAP), len);
    if (va >= MODULES_VADDR) return phys(walk(va), len);
    throw new Error(`VA 0x${va.toString(16)} is neither kernel image, direct map nor module area`);
  }
  /** The module area is mapped by 4 KiB pages: walk init_top_pgt (4-level paging). */
  function walk(va: bigint): number {
    let table = Number(sym("init_top_pgt") - KERNEL_MAP);
    for (const shift of [39n, 30n, 21n, 12n]) {
      const e = phys(table + Number((va >> shift) & 511n) * 8, 8).readBigUInt64LE(0);
      if ((e & 1n) === 0n) throw new Error(`VA 0x${va.toString(16)} is not mapped`);
      const frame = e & 0x000ffffffffff000n;
      const large = shift !== 39n && shift !== 12n && (e & 0x80n) !== 0n;
      if (shift === 12n || large) {
        const mask = (1n << shift) - 1n;
        return Number((frame & ~mask) | (va & mask));
      }
      table = Number(frame);
    }
    throw new Error("unreachable");
  }
  const u64 = (va: bigint): bigint => read(va, 8).readBigUInt64LE(0);
  function cstring(va: bigint): string {
    const b = read(va, 512);
    const end = b.indexOf(0);
    return b.subarray(0, end < 0 ? b.length : end).toString("latin1");
  }

  /** Kernel-image symbols sorted by address, for "symbol + offset" of a pointer. */
  const sorted = map.entries.filter((e) => e.address >= KERNEL_MAP && e.module === undefined).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  function nearest(v: bigint): { sym: string; addr: bigint; off: number } {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sorted[mid]!.address <= v) lo = mid;
      else hi = mid - 1;
    }
    // Prefer a global, then a non-compiler-generated name at that address.
    const at = sorted[lo]!.address;
    const cands = sorted.filter((e) => e.address === at);
    // Prefer the x86-64 syscall wrapper name (argument-less handlers share the address of
    // their __ia32_/__do_sys aliases), then a global, then any non-compiler-generated name.
    const pick =
      cands.find((e) => e.name.startsWith("__x64_sys_")) ??
      cands.find((e) => /[A-Z]/.test(e.type) && !e.name.includes(".")) ??
      cands.find((e) => !e.name.includes(".")) ??
      cands[0]!;
    return { sym: pick.name, addr: at, off: Number(v - at) };
  }
  const sym = (name: string): bigint => {
    const a = map.address(name);
    if (a === undefined) throw new Error(`no symbol ${name}`);
    return a;
  };

  function structOf(b: Btf, name: string): number {
    const id = b.find(name, "struct") ?? b.find(name, "union");
    if (id === undefined) throw new Error(`no struct ${name}`);
    return id;
  }

  const hex = (v: bigint): string => `0x${v.toString(16)}n`;
  const ref = (v: bigint): string => {
    const n = nearest(v);
    return `{ sym: ${JSON.stringify(n.sym)}, addr: ${hex(n.addr)}${n.off !== 0 ? `, off: ${n.off}` : ""} }`;
  };

  /** The non-zero members of a struct instance: pointers as symbol refs, char* as strings, integers as numbers. */
  function tableFields(va: bigint, typeName: string): string[] {
    const out: string[] = [];
    const walk = (id: number, base: number, prefix: string): void => {
      const t = btf.type(btf.resolve(id));
      if (t.kind !== "struct" && t.kind !== "union") throw new Error(`${typeName}: not a struct`);
      for (const m of t.members) {
        if (m.bitfieldSize !== 0) continue;
        const off = base + m.bitOffset / 8;
        const mt = btf.type(btf.resolve(m.type));
        const path = m.name === "" ? prefix : prefix === "" ? m.name : `${prefix}.${m.name}`;
        if (mt.kind === "struct" || mt.kind === "union") {
          walk(m.type, off, path);
          continue;
        }
        if (mt.kind === "ptr") {
          const v = u64(va + BigInt(off));
          if (v === 0n) continue;
          const target = btf.type(btf.skipQualifiers(mt.type));
          if (target.kind === "int" && target.size === 1) out.push(`${JSON.stringify(path)}: { str: ${JSON.stringify(cstring(v))}, addr: ${hex(v)} }`);
          else if (v >= KERNEL_MAP) out.push(`${JSON.stringify(path)}: ${ref(v)}`);
          else out.push(`${JSON.stringify(path)}: { kmalloc: true }`);
          continue;
        }
        if (mt.kind === "int" || mt.kind === "enum") {
          const size = mt.kind === "int" ? mt.size : mt.size;
          const b = read(va + BigInt(off), size);
          const v = size === 8 ? b.readBigUInt64LE(0) : BigInt(b.readUIntLE(0, size));
          if (v !== 0n) out.push(`${JSON.stringify(path)}: ${v.toString()}`);
        }
      }
    };
    walk(structOf(btf, typeName), 0, "");
    return out;
  }

  const img: ImageReader = {
    read,
    u64,
    cstring,
    sym,
    nearest,
    ref,
    off: (struct, path) => {
      const m = profile.findMember(struct, path);
      if (m === undefined) throw new Error(`no member ${struct}.${path}`);
      return m.offset;
    },
  };
  const proc = extractProcTrees(img);

  const lines: string[] = [];
  const emit = (s: string): void => void lines.push(s);

  emit("// Generated by src/guest/data/extract-real-kernel-data.ts from ../shared/fixtures/linux/nokaslr-256M (do not edit).");
  emit("// The real Debian 6.1.0-56-amd64 kernel's static tables; see that file for how.");
  emit('import type { RealIdtGate, RealModule, RealNfHooks, RealProcEntry, RealSymRef, RealTable } from "./real-kernel-data-types.js";');
  emit("");
  emit(`export const REAL_LINUX_BANNER = ${JSON.stringify(cstring(sym("linux_banner")))};`);
  {
    const uts = sym("init_uts_ns");
    const f = (o: number): string => JSON.stringify(read(uts + BigInt(o), 65).toString("latin1").replace(/\0.*$/s, ""));
    emit(`export const REAL_UTSNAME = { sysname: ${f(0)}, release: ${f(130)}, version: ${f(195)}, machine: ${f(260)} } as const;`);
  }
  emit("");
  emit("/** sys_call_table[nr] → handler (451 entries). */");
  emit("export const REAL_SYSCALL_TABLE: readonly RealSymRef[] = [");
  {
    const t = sym("sys_call_table");
    for (let i = 0; i < 451; i++) emit(`  ${ref(u64(t + BigInt(i * 8)))}, // ${i}`);
  }
  emit("];");
  emit("");
  emit("/** idt_table[vector]: handler, IST, DPL (all gates: present, type 0xE, selector __KERNEL_CS). */");
  emit("export const REAL_IDT: readonly RealIdtGate[] = [");
  {
    const t = sym("idt_table");
    for (let i = 0; i < 256; i++) {
      const g = read(t + BigInt(i * 16), 16);
      const target = BigInt(g.readUInt16LE(0)) | (BigInt(g.readUInt16LE(6)) << 16n) | (BigInt(g.readUInt32LE(8)) << 32n);
      const flags = g[5]!;
      emit(`  { handler: ${ref(target)}, ist: ${g[4]! & 7}, dpl: ${(flags >> 5) & 3} }, // ${i}`);
    }
  }
  emit("];");
  emit("");
  const TABLES: readonly (readonly [string, string])[] = [
    ["n_tty_ops", "tty_ldisc_ops"],
    ["null_ldisc", "tty_ldisc_ops"],
    ["tcp4_seq_ops", "seq_operations"],
    ["tcp4_seq_afinfo", "tcp_seq_afinfo"],
    ["tcp6_seq_afinfo", "tcp_seq_afinfo"],
    ["proc_root_operations", "file_operations"],
    ["proc_root_inode_operations", "inode_operations"],
    ["proc_dir_operations", "file_operations"],
    ["proc_dir_inode_operations", "inode_operations"],
    ["proc_tgid_base_operations", "file_operations"],
    ["proc_fd_operations", "file_operations"],
    ["proc_seq_ops", "proc_ops"],
    ["proc_single_ops", "proc_ops"],
    ["modules_proc_ops", "proc_ops"],
    ["modules_op", "seq_operations"],
    ["tty_fops", "file_operations"],
    ["console_fops", "file_operations"],
    ["socket_file_ops", "file_operations"],
    ["pipefifo_fops", "file_operations"],
    ["shmem_file_operations", "file_operations"],
    ["ramfs_file_operations", "file_operations"],
    ["null_fops", "file_operations"],
    ["keyboard_notifier_block", "notifier_block"],
    ["i8042_kbd_bind_notifier_block", "notifier_block"],
    ["proc_root", "proc_dir_entry"],
  ];
  // Then every operations table the /proc trees point at (a name may be two static symbols: the address decides).
  const all: { name: string; addr: bigint; type: string }[] = TABLES.map(([name, type]) => ({ name, addr: sym(name), type }));
  for (const t of proc.tables) {
    if (all.some((x) => x.addr === t.addr)) continue;
    const n = nearest(t.addr);
    if (n.off !== 0) throw new Error(`table at 0x${t.addr.toString(16)} does not start at a symbol`);
    all.push({ name: n.sym, addr: t.addr, type: t.type });
  }
  emit("/** Static tables written at their System.map address, member by member. */");
  emit("export const REAL_TABLES: readonly RealTable[] = [");
  for (const { name, addr, type } of all) {
    emit(`  { symbol: ${JSON.stringify(name)}, addr: ${hex(addr)}, type: ${JSON.stringify(type)}, fields: {`);
    for (const f of tableFields(addr, type)) emit(`    ${f},`);
    emit("  } },");
  }
  emit("];");
  emit("");
  emit("/** tty_ldiscs[]: registered line disciplines (index = N_* number). */");
  emit("export const REAL_TTY_LDISCS: readonly (readonly [number, RealSymRef])[] = [");
  {
    const t = sym("tty_ldiscs");
    for (let i = 0; i < 30; i++) {
      const v = u64(t + BigInt(i * 8));
      if (v !== 0n) emit(`  [${i}, ${ref(v)}],`);
    }
  }
  emit("];");
  emit("");
  emit("/** init_net.nf.hooks_FAMILY[hook] → the hook functions of its nf_hook_entries (every family, every hook). */");
  emit("export const REAL_NF_HOOKS: readonly RealNfHooks[] = [");
  for (const family of ["hooks_ipv4", "hooks_ipv6", "hooks_arp", "hooks_bridge"]) {
    const m = profile.findMember("net", `nf.${family}`);
    if (m === undefined) throw new Error(`no member net.nf.${family}`);
    const base = sym("init_net") + BigInt(m.offset);
    for (let i = 0; i < m.size / 8; i++) {
      const e = u64(base + BigInt(i * 8));
      if (e === 0n) continue;
      const n = read(e, 2).readUInt16LE(0);
      const hooks: string[] = [];
      for (let j = 0; j < n; j++) hooks.push(ref(u64(e + 8n + BigInt(j * 16))));
      emit(`  { family: ${JSON.stringify(family)}, hook: ${i}, fns: [${hooks.join(", ")}] },`);
    }
  }
  emit("];");
  emit("");
  for (const l of extractModules(img)) emit(l);
  emit("");
  for (const l of proc.lines) emit(l);
  return lines.join("\n") + "\n";
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.stdout.write(generateRealKernelData());
}
