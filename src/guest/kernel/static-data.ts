/**
 * The kernel image's static data at System.map addresses: linux_banner, init_uts_ns, the
 * KASLR variables (phys_base, page_offset_base, vmalloc_base, vmemmap_base), nr_cpu_ids,
 * sys_call_table, idt_table, and the function-pointer tables of the real kernel
 * (file_operations of /proc and of opened files, tty ldisc ops, tcp4_seq_ops, notifier
 * blocks, proc_root) copied member by member from real-kernel-data.generated.ts.
 */
import type { Kernel } from "../model/kernel.js";
import { REAL_IDT, REAL_LINUX_BANNER, REAL_SYSCALL_TABLE, REAL_TABLES, REAL_TTY_LDISCS, REAL_UTSNAME } from "../data/real-kernel-data.generated.js";
import type { RealSymRef, RealTable } from "../data/real-kernel-data-types.js";
import { StructBuf, cString, u32Bytes, u64Bytes } from "../mem/kmem.js";

export const SYSCALL_COUNT = REAL_SYSCALL_TABLE.length;
export const IDT_ENTRIES = 256;
/** __KERNEL_CS; gate type 0xE (64-bit interrupt gate). */
export const KERNEL_CS = 0x10;
export const GATE_INTERRUPT = 0xe;

export function refVa(k: Kernel, r: RealSymRef): bigint {
  return k.addr.kaddr(r.addr) + BigInt(r.off ?? 0);
}

export function writeBanner(k: Kernel): void {
  k.mem.write(k.addr.ksym("linux_banner"), cString(REAL_LINUX_BANNER));
  const t = k.t;
  const uts = k.addr.ksym("init_uts_ns");
  const f = (m: Parameters<typeof t.o<"uts_namespace">>[1], s: string): void => k.mem.write(uts + BigInt(t.o("uts_namespace", m)), cString(s));
  f("name.sysname", REAL_UTSNAME.sysname);
  f("name.nodename", "00seven-guest");
  f("name.release", REAL_UTSNAME.release);
  f("name.version", REAL_UTSNAME.version);
  f("name.machine", REAL_UTSNAME.machine);
  f("name.domainname", "(none)");
}

export function writeKaslrVariables(k: Kernel): void {
  const a = k.addr;
  k.mem.write(a.ksym("phys_base"), u64Bytes(k.p.physBase));
  k.mem.write(a.ksym("page_offset_base"), u64Bytes(k.p.pageOffsetBase));
  k.mem.write(a.ksym("vmalloc_base"), u64Bytes(k.p.vmallocBase));
  k.mem.write(a.ksym("vmemmap_base"), u64Bytes(k.p.vmemmapBase));
  k.mem.write(a.ksym("nr_cpu_ids"), u32Bytes(k.cfg.layout.vcpus));
}

/** The handler System.map gives sys_call_table[nr] (slid). */
export function syscallHandler(k: Kernel, nr: number): bigint {
  const r = REAL_SYSCALL_TABLE[nr];
  if (r === undefined) throw new RangeError(`no syscall ${nr}`);
  return refVa(k, r);
}

export function syscallHandlerName(nr: number): string {
  return REAL_SYSCALL_TABLE[nr]?.sym ?? "?";
}

export function writeSyscallTable(k: Kernel): void {
  const b = new StructBuf(SYSCALL_COUNT * 8);
  for (let i = 0; i < SYSCALL_COUNT; i++) b.u64(i * 8, syscallHandler(k, i));
  k.mem.write(k.addr.ksym("sys_call_table"), b.bytes);
}

export interface Gate {
  readonly handler: bigint;
  readonly ist: number;
  readonly dpl: number;
  readonly present: boolean;
}

export function realGate(k: Kernel, vector: number): Gate {
  const g = REAL_IDT[vector]!;
  return { handler: refVa(k, g.handler), ist: g.ist, dpl: g.dpl, present: true };
}

/** One 16-byte gate_struct (x86 64-bit IDT gate, idt_bits = ist:3 zero:5 type:5 dpl:2 p:1). */
export function encodeGate(k: Kernel, g: Gate): Uint8Array {
  const t = k.t;
  const b = new StructBuf(t.size("gate_struct"));
  b.u16(t.o("gate_struct", "offset_low"), Number(g.handler & 0xffffn));
  b.u16(t.o("gate_struct", "segment"), KERNEL_CS);
  b.u16(t.o("gate_struct", "bits"), (g.ist & 7) | (GATE_INTERRUPT << 8) | ((g.dpl & 3) << 13) | (g.present ? 1 << 15 : 0));
  b.u16(t.o("gate_struct", "offset_middle"), Number((g.handler >> 16n) & 0xffffn));
  b.u32(t.o("gate_struct", "offset_high"), Number((g.handler >> 32n) & 0xffffffffn));
  return b.bytes;
}

export function decodeGateHandler(bytes: Uint8Array): bigint {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return BigInt(dv.getUint16(0, true)) | (BigInt(dv.getUint16(6, true)) << 16n) | (BigInt(dv.getUint32(8, true)) << 32n);
}

export function writeIdt(k: Kernel): void {
  const size = k.t.size("gate_struct");
  const b = new Uint8Array(IDT_ENTRIES * size);
  for (let v = 0; v < IDT_ENTRIES; v++) b.set(encodeGate(k, realGate(k, v)), v * size);
  k.mem.write(k.addr.ksym("idt_table"), b);
}

/** A real static table, member by member, at its System.map address. */
export function writeRealTable(k: Kernel, tab: RealTable): void {
  const base = k.addr.kaddr(tab.addr);
  for (const [path, v] of Object.entries(tab.fields)) {
    const at = base + BigInt(k.t.member(tab.type, path));
    if (typeof v === "number") {
      const size = k.t.memberSize(tab.type, path);
      const b = new StructBuf(8);
      b.u64(0, BigInt(v));
      k.mem.write(at, b.bytes.subarray(0, size));
    } else if ("sym" in v) {
      k.mem.write(at, u64Bytes(refVa(k, v)));
    } else if ("str" in v) {
      const s = k.addr.kaddr(v.addr);
      k.mem.write(s, cString(v.str));
      k.mem.write(at, u64Bytes(s));
    }
    // kmalloc'd pointers of the real kernel are left NULL; the model sets its own.
  }
}

export function realTable(symbol: string): RealTable {
  const t = REAL_TABLES.find((x) => x.symbol === symbol);
  if (t === undefined) throw new RangeError(`no real table ${symbol}`);
  return t;
}

/** The function a real table member points at (slid), e.g. ("n_tty_ops", "write"). */
export function realMember(k: Kernel, symbol: string, path: string): bigint {
  const v = realTable(symbol).fields[path];
  if (v === undefined || typeof v === "number" || !("sym" in v)) throw new RangeError(`${symbol}.${path} is not a function pointer`);
  return refVa(k, v);
}

export function writeStaticTables(k: Kernel): void {
  for (const tab of REAL_TABLES) writeRealTable(k, tab);
  const ldiscs = k.addr.ksym("tty_ldiscs");
  for (const [n, r] of REAL_TTY_LDISCS) k.mem.write(ldiscs + BigInt(n * 8), u64Bytes(refVa(k, r)));
}

export { REAL_TTY_LDISCS };
