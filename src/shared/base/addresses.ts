/**
 * Branded address types. A Gpa is a guest-physical address, a Gva a guest-virtual
 * address, a Pfn a 4 KiB frame number. They are bigints at run time; the brand stops a
 * virtual address being passed where a physical one is expected.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type Gpa = Brand<bigint, "Gpa">;
export type Gva = Brand<bigint, "Gva">;
export type Pfn = Brand<bigint, "Pfn">;

export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 4096;
export const PAGE_SIZE_N = 4096n;
export const PAGE_MASK = ~(PAGE_SIZE_N - 1n);

export const gpa = (v: bigint | number): Gpa => BigInt(v) as Gpa;
export const gva = (v: bigint | number): Gva => BigInt.asUintN(64, BigInt(v)) as Gva;
export const pfn = (v: bigint | number): Pfn => BigInt(v) as Pfn;

export const pfnOf = (a: Gpa): Pfn => (a >> PAGE_SHIFT) as Pfn;
export const gpaOfPfn = (p: Pfn): Gpa => (p << PAGE_SHIFT) as Gpa;
export const pageBase = (a: Gpa): Gpa => (a & PAGE_MASK) as Gpa;
export const pageOffset = (a: bigint): number => Number(a & (PAGE_SIZE_N - 1n));
export const isPageAligned = (a: bigint): boolean => (a & (PAGE_SIZE_N - 1n)) === 0n;

/** Canonical form of a 48-bit (or 57-bit with LA57) virtual address. */
export function isCanonical(va: bigint, la57 = false): boolean {
  const bits = la57 ? 57n : 48n;
  const top = BigInt.asUintN(64, va) >> (bits - 1n);
  return top === 0n || top === (1n << (65n - bits)) - 1n;
}
