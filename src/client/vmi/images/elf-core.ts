/**
 * ELF64 core files (QEMU `dump-guest-memory`, kdump /proc/vmcore): PT_LOAD segments by
 * p_paddr, PT_NOTE notes, registers from NT_PRSTATUS and QEMU's QEMUCPUState notes.
 * Untrusted: each header field is checked before it is used, in the order length →
 * identity → table bounds → segment bounds → overlaps → notes.
 */
import { ElfCoreDecodeError } from "./image-error.js";
import type { ByteSource } from "./byte-source.js";
import { findOverlap, type Segment } from "./segment-map.js";
import {
  ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, ELF64_SHDR, ELF_PRSTATUS_X86_64, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64,
  ET_CORE, EV_CURRENT, NT_PRSTATUS, NT_QEMU_CPUSTATE, PN_XNUM, PT_LOAD, PT_NOTE,
} from "./elf-layout.js";
import { QEMU_CPU_STATE, QEMU_CPU_STATE_VERSION, QEMU_NOTE_NAME, type QemuCpuState } from "./qemu-cpu-state.js";
import { prstatusRegisters, qemuRegisters } from "./elf-registers.js";
import type { VcpuRegisters } from "../registers.js";

export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

export interface ElfCore {
  readonly segments: Segment[];
  readonly notes: ElfNote[];
  readonly vcpus: VcpuRegisters[];
  /** The raw QEMU CPU states, one per vCPU, when present. */
  readonly qemuCpuStates: QemuCpuState[];
}

/** Bounds on what we accept (far above real cores, low enough to stop absurd headers). */
export const ELF_LIMITS = {
  maxProgramHeaders: 1 << 20,
  maxNoteBytes: 64 << 20,
} as const;

export function looksLikeElf(head: Uint8Array): boolean {
  return head.length >= 4 && ELFMAG.every((b, i) => head[i] === b);
}

export async function parseElfCore(source: ByteSource): Promise<ElfCore> {
  const file = source.name;
  const fail = (code: string, what: string, details: Record<string, unknown> = {}): never => {
    throw new ElfCoreDecodeError(file, code, what, details);
  };
  if (source.size < ELF64_EHDR.size) fail("TRUNCATED", `${source.size} bytes, shorter than the 64-byte ELF header`, { size: source.size });
  const eh = ELF64_EHDR.parse(await source.read(0, ELF64_EHDR.size));
  const id = eh.e_ident;
  if (!ELFMAG.every((b, i) => id[i] === b)) fail("BAD_MAGIC", "not an ELF file (bad magic)", { field: "e_ident" });
  if (id[4] !== ELFCLASS64) fail("BAD_CLASS", `EI_CLASS ${id[4]} is not ELFCLASS64`, { field: "EI_CLASS", value: id[4] });
  if (id[5] !== ELFDATA2LSB) fail("BAD_DATA", `EI_DATA ${id[5]} is not little-endian`, { field: "EI_DATA", value: id[5] });
  if (id[6] !== EV_CURRENT) fail("BAD_VERSION", `EI_VERSION ${id[6]} is not 1`, { field: "EI_VERSION", value: id[6] });
  if (eh.e_type !== ET_CORE) fail("NOT_CORE", `e_type ${eh.e_type} is not ET_CORE`, { field: "e_type", value: eh.e_type });
  if (eh.e_machine !== EM_X86_64) fail("BAD_MACHINE", `e_machine ${eh.e_machine} is not EM_X86_64`, { field: "e_machine", value: eh.e_machine });
  if (eh.e_phentsize !== ELF64_PHDR.size) fail("BAD_PHENTSIZE", `e_phentsize ${eh.e_phentsize} is not 56`, { field: "e_phentsize", value: eh.e_phentsize });

  let phnum = eh.e_phnum;
  if (phnum === PN_XNUM) phnum = await extendedPhnum(source, eh.e_shoff, eh.e_shentsize, fail);
  if (phnum > ELF_LIMITS.maxProgramHeaders) fail("TOO_MANY", `${phnum} program headers`, { field: "e_phnum", value: phnum });
  const phBytes = BigInt(phnum) * BigInt(ELF64_PHDR.size);
  if (eh.e_phoff > BigInt(source.size) || phBytes > BigInt(source.size) - eh.e_phoff) {
    fail("TRUNCATED", `program header table (${phnum} at ${eh.e_phoff}) runs past the end of the file`, { field: "e_phoff", offset: eh.e_phoff });
  }
  const table = await source.read(Number(eh.e_phoff), Number(phBytes));

  const segments: Segment[] = [];
  const noteRanges: Array<{ offset: number; size: number; index: number }> = [];
  let noteTotal = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = ELF64_PHDR.parse(table, i * ELF64_PHDR.size);
    const at = { index: i };
    if (ph.p_type !== PT_LOAD && ph.p_type !== PT_NOTE) continue;
    if (ph.p_offset > BigInt(source.size) || ph.p_filesz > BigInt(source.size) - ph.p_offset) {
      fail("TRUNCATED", `segment ${i} (file bytes ${ph.p_offset}+${ph.p_filesz}) runs past the end of the ${source.size}-byte file`, { ...at, offset: ph.p_offset, filesz: ph.p_filesz });
    }
    if (ph.p_type === PT_NOTE) {
      noteTotal += Number(ph.p_filesz);
      if (noteTotal > ELF_LIMITS.maxNoteBytes) fail("TOO_LARGE", `notes exceed ${ELF_LIMITS.maxNoteBytes} bytes`, at);
      noteRanges.push({ offset: Number(ph.p_offset), size: Number(ph.p_filesz), index: i });
      continue;
    }
    if (ph.p_memsz < ph.p_filesz) fail("BAD_SEGMENT", `segment ${i} has p_memsz ${ph.p_memsz} < p_filesz ${ph.p_filesz}`, at);
    if (ph.p_paddr + ph.p_memsz > 1n << 64n) fail("BAD_SEGMENT", `segment ${i} wraps the physical address space`, { ...at, paddr: ph.p_paddr });
    if (ph.p_memsz === 0n) continue;
    segments.push({ gpa: ph.p_paddr, len: ph.p_memsz, fileOffset: Number(ph.p_offset), fileLen: Number(ph.p_filesz) });
  }
  const ov = findOverlap(segments);
  if (ov) fail("OVERLAP", `PT_LOAD segments at 0x${segments[ov[0]]!.gpa.toString(16)} and 0x${segments[ov[1]]!.gpa.toString(16)} overlap`, { gpa: segments[ov[1]]!.gpa });

  const notes: ElfNote[] = [];
  for (const r of noteRanges) parseNotes(await source.read(r.offset, r.size), r.offset, notes, fail);

  const prstatus: Uint8Array[] = [];
  const qemu: QemuCpuState[] = [];
  for (const n of notes) {
    if (n.name === "CORE" && n.type === NT_PRSTATUS) {
      if (n.desc.length < ELF_PRSTATUS_X86_64.size) fail("BAD_NOTE", `NT_PRSTATUS ${prstatus.length} has ${n.desc.length} bytes, expected ${ELF_PRSTATUS_X86_64.size}`, { note: "NT_PRSTATUS" });
      prstatus.push(n.desc);
    } else if (n.name === QEMU_NOTE_NAME && n.type === NT_QEMU_CPUSTATE) {
      if (n.desc.length < QEMU_CPU_STATE.size) fail("BAD_NOTE", `QEMU note ${qemu.length} has ${n.desc.length} bytes, expected ${QEMU_CPU_STATE.size}`, { note: "QEMU" });
      const s = QEMU_CPU_STATE.parse(n.desc);
      if (s.version !== QEMU_CPU_STATE_VERSION) fail("BAD_NOTE", `QEMU note ${qemu.length} has version ${s.version}, expected 1`, { note: "QEMU", version: s.version });
      if (s.size < QEMU_CPU_STATE.size || s.size > n.desc.length) fail("BAD_NOTE", `QEMU note ${qemu.length} declares size ${s.size}`, { note: "QEMU", size: s.size });
      qemu.push(s);
    }
  }
  const n = Math.max(prstatus.length, qemu.length);
  const vcpus: VcpuRegisters[] = [];
  for (let i = 0; i < n; i++) {
    const q = qemu[i];
    vcpus.push(q ? qemuRegisters(i, q) : prstatusRegisters(i, ELF_PRSTATUS_X86_64.parse(prstatus[i]!)));
  }
  return { segments, notes, vcpus, qemuCpuStates: qemu };
}

type Fail = (code: string, what: string, details?: Record<string, unknown>) => never;

async function extendedPhnum(source: ByteSource, shoff: bigint, shentsize: number, fail: Fail): Promise<number> {
  if (shentsize !== ELF64_SHDR.size) fail("BAD_SHENTSIZE", `e_phnum is PN_XNUM but e_shentsize is ${shentsize}`, { field: "e_shentsize" });
  if (shoff > BigInt(source.size - ELF64_SHDR.size)) fail("TRUNCATED", "e_phnum is PN_XNUM but section header 0 is outside the file", { field: "e_shoff" });
  const sh = ELF64_SHDR.parse(await source.read(Number(shoff), ELF64_SHDR.size));
  return sh.sh_info;
}

function parseNotes(b: Uint8Array, fileOffset: number, out: ElfNote[], fail: Fail): void {
  let o = 0;
  while (o < b.length) {
    if (b.length - o < ELF64_NHDR.size) fail("BAD_NOTE", `note header at file offset ${fileOffset + o} is cut short`, { offset: fileOffset + o });
    const h = ELF64_NHDR.parse(b, o);
    const nameOff = o + ELF64_NHDR.size;
    const descOff = nameOff + align4(h.n_namesz);
    const end = descOff + align4(h.n_descsz);
    // Numbers here stay below 2^35: no precision loss.
    if (descOff > b.length || descOff + h.n_descsz > b.length) {
      fail("BAD_NOTE", `note at file offset ${fileOffset + o} (namesz ${h.n_namesz}, descsz ${h.n_descsz}) runs past its segment`, { offset: fileOffset + o });
    }
    let nameEnd = nameOff + h.n_namesz;
    while (nameEnd > nameOff && b[nameEnd - 1] === 0) nameEnd--;
    const name = String.fromCharCode(...b.subarray(nameOff, Math.min(nameEnd, nameOff + 64)));
    out.push({ name, type: h.n_type, desc: b.slice(descOff, descOff + h.n_descsz) });
    o = Math.min(end, b.length);
  }
}

function align4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}
