/**
 * Where the kernel lives: the KASLR choices of arch/x86/boot/compressed/kaslr.c (virtual
 * and physical offsets of the image, independently, in CONFIG_PHYSICAL_ALIGN = 2 MiB
 * steps) and of arch/x86/mm/kaslr.c (RANDOMIZE_MEMORY: the bases of the direct map,
 * vmalloc and vmemmap regions, PUD-aligned, spread over [0xffff888000000000,
 * CPU_ENTRY_AREA_BASE)). Deterministic by seed; with `kaslr: false` everything is at the
 * `nokaslr` addresses (_text at VA 0xffffffff81000000 and PA 0x1000000, phys_base 0).
 *
 * phys_base makes VA→PA of a kernel-image symbol = VA − __START_KERNEL_map + phys_base
 * (mod 2^64: it "wraps" when the virtual offset exceeds the physical one, as in Linux).
 */
import { SeededRng } from "../../shared/base/index.js";
import { GuestError } from "../errors.js";

export const START_KERNEL_MAP = 0xffffffff80000000n;
export const KERNEL_IMAGE_SIZE = 1n << 30n;
export const MODULES_VADDR = START_KERNEL_MAP + KERNEL_IMAGE_SIZE;
export const MODULES_END = 0xffffffffff000000n;
export const PHYSICAL_ALIGN = 2n << 20n;
/** CONFIG_PHYSICAL_START: the lowest physical address KASLR picks (and the nokaslr one). */
export const LOAD_PHYSICAL_ADDR = 0x1000000n;
export const PAGE_OFFSET_BASE_L4 = 0xffff888000000000n;
export const VMALLOC_BASE_NOKASLR = 0xffffc90000000000n;
export const VMEMMAP_BASE_NOKASLR = 0xffffea0000000000n;
export const CPU_ENTRY_AREA_BASE = 0xfffffe0000000000n;
/** The IDT's read-only alias (CPU_ENTRY_AREA_RO_IDT): what IDTR holds, KASLR or not. */
export const CPU_ENTRY_AREA_RO_IDT = CPU_ENTRY_AREA_BASE;
export const CPU_ENTRY_AREA_PER_CPU = CPU_ENTRY_AREA_BASE + 0x1000n;
const TB = 1n << 40n;
const PUD_SIZE = 1n << 30n;
const U64 = (1n << 64n) - 1n;
/** Linux's module_load_offset: up to 1024 pages above MODULES_VADDR when KASLR is on. */
const MODULE_LOAD_OFFSET_PAGES = 1024n;

export interface KernelPlacement {
  readonly kaslr: boolean;
  /** VA(_text) − its System.map address (a multiple of 2 MiB, possibly 0). */
  readonly virtSlide: bigint;
  /** Guest-physical address of _text (2 MiB aligned, ≥ 16 MiB). */
  readonly physText: bigint;
  /** The kernel's phys_base variable (u64). */
  readonly physBase: bigint;
  /** Bytes from _text to _end. */
  readonly imageBytes: bigint;
  readonly pageOffsetBase: bigint;
  readonly vmallocBase: bigint;
  readonly vmemmapBase: bigint;
  /** Where the module allocator starts handing out addresses. */
  readonly moduleBase: bigint;
}

export interface PlacementInput {
  readonly seed: string;
  readonly kaslr: boolean;
  /** System.map addresses of _text and _end. */
  readonly textSym: bigint;
  readonly endSym: bigint;
  /** VMPL1 may use [0, guestRamEnd). */
  readonly guestRamEnd: bigint;
  /** Guest RAM that must stay free above and below the image for everything else. */
  readonly reserveBytes: bigint;
}

export function placeKernel(p: PlacementInput): KernelPlacement {
  const imageBytes = alignUp(p.endSym - p.textSym, PHYSICAL_ALIGN);
  const nokaslrVirt = p.textSym - START_KERNEL_MAP; // 0x1000000 on x86-64
  const lastPhys = p.guestRamEnd - imageBytes - p.reserveBytes;
  if (lastPhys < LOAD_PHYSICAL_ADDR) {
    const need = LOAD_PHYSICAL_ADDR + imageBytes + p.reserveBytes;
    throw new GuestError(
      "GUEST_RAM_TOO_SMALL",
      `guest RAM ends at ${mib(p.guestRamEnd)} MiB; the kernel image (${mib(imageBytes)} MiB at ≥ 16 MiB) and ${mib(p.reserveBytes)} MiB for processes need ${mib(need)} MiB`,
      { guestRamEnd: p.guestRamEnd, needed: need },
    );
  }
  if (!p.kaslr) {
    return {
      kaslr: false,
      virtSlide: 0n,
      physText: LOAD_PHYSICAL_ADDR,
      physBase: BigInt.asUintN(64, LOAD_PHYSICAL_ADDR - nokaslrVirt),
      imageBytes,
      pageOffsetBase: PAGE_OFFSET_BASE_L4,
      vmallocBase: VMALLOC_BASE_NOKASLR,
      vmemmapBase: VMEMMAP_BASE_NOKASLR,
      moduleBase: MODULES_VADDR,
    };
  }
  const rng = new SeededRng(p.seed).fork("guest/kaslr");
  // Physical: any 2 MiB slot in [16 MiB, lastPhys] (find_random_phys_addr).
  const physSlots = (lastPhys - LOAD_PHYSICAL_ADDR) / PHYSICAL_ALIGN + 1n;
  const physText = LOAD_PHYSICAL_ADDR + rng.bigint(physSlots) * PHYSICAL_ALIGN;
  // Virtual: any 2 MiB slot with the image inside [16 MiB, KERNEL_IMAGE_SIZE) (find_random_virt_addr).
  const virtSlots = (KERNEL_IMAGE_SIZE - nokaslrVirt - imageBytes) / PHYSICAL_ALIGN + 1n;
  const virtSlide = rng.bigint(virtSlots) * PHYSICAL_ALIGN;
  const physBase = physBaseOf(physText, p.textSym + virtSlide);
  // RANDOMIZE_MEMORY (kernel_randomize_memory): direct map, vmalloc, vmemmap.
  const directTb = (alignUp(p.guestRamEnd, TB) >> 40n) + 0xan; // + CONFIG_RANDOMIZE_MEMORY_PHYSICAL_PADDING
  const sizesTb = [directTb, 32n, 1n];
  let vaddr = PAGE_OFFSET_BASE_L4;
  const vaddrEnd = CPU_ENTRY_AREA_BASE;
  let remain = vaddrEnd - vaddr;
  for (const s of sizesTb) remain -= s * TB;
  const bases: bigint[] = [];
  for (let i = 0; i < sizesTb.length; i++) {
    const entropy = remain / BigInt(sizesTb.length - i);
    const rand = rng.bigint(entropy / PUD_SIZE + 1n) * PUD_SIZE;
    vaddr += rand;
    bases.push(vaddr);
    vaddr += sizesTb[i]! * TB;
    vaddr = alignUp(vaddr + 1n, PUD_SIZE);
    remain -= entropy;
  }
  const moduleBase = MODULES_VADDR + (rng.bigint(MODULE_LOAD_OFFSET_PAGES) + 1n) * 0x1000n;
  return {
    kaslr: true,
    virtSlide,
    physText,
    physBase: physBase & U64,
    imageBytes,
    pageOffsetBase: bases[0]!,
    vmallocBase: bases[1]!,
    vmemmapBase: bases[2]!,
    moduleBase,
  };
}

/** phys_base for _text at virtual `textVa` and physical `physText`: PA = VA − __START_KERNEL_map + phys_base. */
export function physBaseOf(physText: bigint, textVa: bigint): bigint {
  return BigInt.asUintN(64, physText - (textVa - START_KERNEL_MAP));
}

export function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

function mib(v: bigint): string {
  return (Number(v) / (1 << 20)).toFixed(1);
}
