/**
 * x86-64 paging-structure entry formats — Intel SDM Vol 3 §4.5 / AMD APM Vol 2 §5.3,
 * with the SEV C-bit (SNP.md §4.5 and LEGACY-PROTOCOL.md: position from CPUID
 * 0x8000001F EBX[5:0], 51 on current parts).
 */
export const PTE = {
  P: 1n << 0n,
  RW: 1n << 1n,
  US: 1n << 2n,
  PWT: 1n << 3n,
  PCD: 1n << 4n,
  A: 1n << 5n,
  D: 1n << 6n,
  /** PS in PDPTE/PDE (1 GiB / 2 MiB page); PAT in a 4 KiB PTE. */
  PS: 1n << 7n,
  G: 1n << 8n,
  /** PAT bit of a large-page entry. */
  PAT_LARGE: 1n << 12n,
  NX: 1n << 63n,
} as const;

/** Protection-key bits 62:59 (ignored unless CR4.PKE). */
export const PTE_PKEY_SHIFT = 59n;

export const DEFAULT_C_BIT = 51;
/** Architectural maximum physical-address width. */
export const MAX_PHYS_BITS = 52;

/** Address field of an entry (bits 51:12) with the C-bit (and anything above it) removed. */
export function pteAddressMask(cBit: number): bigint {
  const top = Math.min(cBit, MAX_PHYS_BITS);
  return ((1n << BigInt(top)) - 1n) & ~0xfffn;
}

export const LEVEL_SHIFT = { PML5: 48n, PML4: 39n, PDPT: 30n, PD: 21n, PT: 12n } as const;
export const PAGE_2M = 1n << 21n;
export const PAGE_1G = 1n << 30n;

/** Control-register bits the page walk depends on. */
export const CR0_PG = 1n << 31n;
export const CR0_WP = 1n << 16n;
export const CR4_PAE = 1n << 5n;
export const CR4_PGE = 1n << 7n;
export const CR4_LA57 = 1n << 12n;
export const CR4_SMEP = 1n << 20n;
export const CR4_SMAP = 1n << 21n;
export const EFER_SCE = 1n << 0n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
export const EFER_NXE = 1n << 11n;
export const EFER_SVME = 1n << 12n;
/** CR3 bits 11:0 (PCID / PWT,PCD) are not part of the table address. */
export const CR3_ADDR_MASK = ~0xfffn;
/** Linux PTI: the user PGD is the kernel PGD + 4 KiB (bit 12 of CR3). */
export const PTI_USER_PGD_OFFSET = 0x1000n;
