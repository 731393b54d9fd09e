/**
 * Writes an ELF64 core incrementally in QEMU's `dump-guest-memory` shape: ELF header,
 * program headers (PT_NOTE, then one PT_LOAD per range with p_paddr = p_vaddr = GPA),
 * notes (NT_PRSTATUS per vCPU, then a QEMU note per vCPU), then the range bytes
 * (page-aligned start). All offsets are known before the first byte is written.
 */
import type { MemoryRange } from "../driver.js";
import type { RegisterSet } from "../registers.js";
import { badArgument } from "../errors.js";
import {
  ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, ELF64_SHDR, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_CORE, EV_CURRENT,
  NT_PRSTATUS, NT_QEMU_CPUSTATE, PN_XNUM, PT_LOAD, PT_NOTE,
} from "./elf-layout.js";
import { QEMU_NOTE_NAME } from "./qemu-cpu-state.js";
import { prstatusDesc, qemuNoteDesc } from "./elf-registers.js";
import type { ElfNote } from "./elf-core.js";
import { checkDumpRanges, chunkSizeOf, copyRange, readAheadOf, type ByteSink, type ChunkSource, type DumpOptions } from "./dump-writer.js";

export interface ElfCoreWriteOptions extends DumpOptions {
  /** Register sets, vCPU 0 first: written as NT_PRSTATUS and QEMU notes. */
  vcpus?: readonly RegisterSet[];
  /** Further notes, appended after the register notes. */
  notes?: readonly ElfNote[];
}

const DATA_ALIGN = 4096;

export async function writeElfCore(sink: ByteSink, ranges: readonly MemoryRange[], read: ChunkSource, opts: ElfCoreWriteOptions = {}): Promise<void> {
  const sorted = checkDumpRanges(ranges);
  const chunkSize = chunkSizeOf(opts);
  const ahead = readAheadOf(opts);
  const vcpus = opts.vcpus ?? [];
  const notes: ElfNote[] = [
    ...vcpus.map((r, i) => ({ name: "CORE", type: NT_PRSTATUS, desc: prstatusDesc(i, r) })),
    ...vcpus.map((r) => ({ name: QEMU_NOTE_NAME, type: NT_QEMU_CPUSTATE, desc: qemuNoteDesc(r) })),
    ...(opts.notes ?? []),
  ];
  const noteBytes = encodeNotes(notes);
  const phnum = 1 + sorted.length;
  const xnum = phnum >= PN_XNUM;
  const shOff = ELF64_EHDR.size;
  const phOff = shOff + (xnum ? ELF64_SHDR.size : 0);
  const notesOff = phOff + phnum * ELF64_PHDR.size;
  const dataOff = alignUp(notesOff + noteBytes.length, DATA_ALIGN);

  const head = new Uint8Array(dataOff);
  const ident = new Uint8Array(16);
  ident.set(ELFMAG, 0);
  ident[4] = ELFCLASS64;
  ident[5] = ELFDATA2LSB;
  ident[6] = EV_CURRENT;
  ELF64_EHDR.serialize(
    {
      e_ident: ident, e_type: ET_CORE, e_machine: EM_X86_64, e_version: EV_CURRENT,
      e_phoff: BigInt(phOff), e_shoff: xnum ? BigInt(shOff) : 0n,
      e_ehsize: ELF64_EHDR.size, e_phentsize: ELF64_PHDR.size, e_phnum: xnum ? PN_XNUM : phnum,
      e_shentsize: xnum ? ELF64_SHDR.size : 0, e_shnum: xnum ? 1 : 0,
    },
    head,
    0,
  );
  if (xnum) ELF64_SHDR.serialize({ sh_info: phnum }, head, shOff);
  ELF64_PHDR.serialize({ p_type: PT_NOTE, p_offset: BigInt(notesOff), p_filesz: BigInt(noteBytes.length), p_memsz: BigInt(noteBytes.length) }, head, phOff);
  let off = BigInt(dataOff);
  sorted.forEach((r, i) => {
    ELF64_PHDR.serialize(
      { p_type: PT_LOAD, p_flags: 0, p_offset: off, p_vaddr: r.gpa, p_paddr: r.gpa, p_filesz: r.len, p_memsz: r.len },
      head,
      phOff + (i + 1) * ELF64_PHDR.size,
    );
    off += r.len;
  });
  if (off >= 1n << 64n) throw badArgument("ranges", "the core would exceed 2^64 bytes");
  head.set(noteBytes, notesOff);
  await sink.write(head);

  const progress = { done: 0n, total: sorted.reduce((s, r) => s + r.len, 0n), onProgress: opts.onProgress };
  for (const r of sorted) await copyRange(sink, r, read, chunkSize, progress, ahead);
}

function encodeNotes(notes: readonly ElfNote[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const n of notes) {
    const name = new TextEncoder().encode(n.name + "\0");
    const size = ELF64_NHDR.size + alignUp(name.length, 4) + alignUp(n.desc.length, 4);
    const b = new Uint8Array(size);
    ELF64_NHDR.serialize({ n_namesz: name.length, n_descsz: n.desc.length, n_type: n.type }, b, 0);
    b.set(name, ELF64_NHDR.size);
    b.set(n.desc, ELF64_NHDR.size + alignUp(name.length, 4));
    parts.push(b);
    total += size;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
