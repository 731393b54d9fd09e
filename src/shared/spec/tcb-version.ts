/**
 * TCB_VERSION (u64) — SNP.md §1.4 (virtee `TcbVersion` legacy/Turin layouts, go-sev-guest
 * `DecomposeTCBVersion`). One byte per security patch level (SPL):
 *
 * | byte | Milan / Genoa | Turin (and later) |
 * |  0   | BOOT_LOADER   | FMC               |
 * |  1   | TEE           | BOOT_LOADER       |
 * |  2   | reserved      | TEE               |
 * |  3   | reserved      | SNP               |
 * | 4–5  | reserved      | reserved          |
 * |  6   | SNP           | reserved          |
 * |  7   | MICROCODE     | MICROCODE         |
 *
 * Milan/Genoa verified against four VCEKs; Turin from virtee only (no Turin report exists here).
 */

export type SnpProduct = "milan" | "genoa" | "turin";
export const SNP_PRODUCTS: readonly SnpProduct[] = ["milan", "genoa", "turin"];

export type TcbComponent = "bootloader" | "tee" | "snp" | "microcode" | "fmc";

export interface TcbVersion {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only. */
  readonly fmc?: number;
}

/** Byte index of each SPL in the u64, per layout. */
export const TCB_BYTES_MILAN_GENOA = { bootloader: 0, tee: 1, snp: 6, microcode: 7 } as const;
export const TCB_BYTES_TURIN = { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 } as const;

/** Which layout a product uses. */
export function tcbLayout(product: SnpProduct): "legacy" | "turin" {
  return product === "turin" ? "turin" : "legacy";
}

function byteOf(v: bigint, i: number): number {
  return Number((v >> BigInt(8 * i)) & 0xffn);
}

/** Bits of the u64 that are reserved in this product's layout. */
export function tcbReservedMask(product: SnpProduct): bigint {
  const used: readonly number[] = Object.values(product === "turin" ? TCB_BYTES_TURIN : TCB_BYTES_MILAN_GENOA);
  let m = 0n;
  for (let i = 0; i < 8; i++) if (!used.includes(i)) m |= 0xffn << BigInt(8 * i);
  return m;
}

/** Decodes a TCB_VERSION word (reserved bytes are ignored; see `tcbReservedMask`). */
export function decodeTcbVersion(v: bigint, product: SnpProduct): TcbVersion {
  const x = BigInt.asUintN(64, v);
  if (product === "turin") {
    const b = TCB_BYTES_TURIN;
    return {
      bootloader: byteOf(x, b.bootloader),
      tee: byteOf(x, b.tee),
      snp: byteOf(x, b.snp),
      microcode: byteOf(x, b.microcode),
      fmc: byteOf(x, b.fmc),
    };
  }
  const b = TCB_BYTES_MILAN_GENOA;
  return { bootloader: byteOf(x, b.bootloader), tee: byteOf(x, b.tee), snp: byteOf(x, b.snp), microcode: byteOf(x, b.microcode) };
}

/** Encodes a TCB_VERSION word. RangeError if a value is not a byte, or `fmc` is set for Milan/Genoa. */
export function encodeTcbVersion(t: TcbVersion, product: SnpProduct): bigint {
  if (product !== "turin" && t.fmc !== undefined && t.fmc !== 0) {
    throw new RangeError(`${product} TCB_VERSION has no FMC SPL`);
  }
  const map: Record<string, number> = product === "turin" ? TCB_BYTES_TURIN : TCB_BYTES_MILAN_GENOA;
  let v = 0n;
  for (const [k, idx] of Object.entries(map)) {
    const x = t[k as TcbComponent] ?? 0;
    if (!Number.isInteger(x) || x < 0 || x > 0xff) throw new RangeError(`TCB ${k} ${x} is not a byte`);
    v |= BigInt(x) << BigInt(8 * idx);
  }
  return v;
}

export type TcbOrder = "equal" | "greater" | "less" | "incomparable";

function components(a: TcbVersion, b: TcbVersion): [number, number][] {
  const out: [number, number][] = [
    [a.bootloader, b.bootloader],
    [a.tee, b.tee],
    [a.snp, b.snp],
    [a.microcode, b.microcode],
  ];
  if (a.fmc !== undefined || b.fmc !== undefined) out.push([a.fmc ?? 0, b.fmc ?? 0]);
  return out;
}

/** Component-wise partial order: "greater" = every SPL ≥ and one >; "incomparable" = mixed. */
export function compareTcb(a: TcbVersion, b: TcbVersion): TcbOrder {
  let ge = true;
  let le = true;
  for (const [x, y] of components(a, b)) {
    if (x < y) ge = false;
    if (x > y) le = false;
  }
  if (ge && le) return "equal";
  if (ge) return "greater";
  if (le) return "less";
  return "incomparable";
}

/** True when every SPL of `actual` is ≥ the same SPL of `minimum`. */
export function tcbAtLeast(actual: TcbVersion, minimum: TcbVersion): boolean {
  const o = compareTcb(actual, minimum);
  return o === "equal" || o === "greater";
}
