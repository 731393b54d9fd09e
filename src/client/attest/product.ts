/**
 * SEV-SNP products as the verifier knows them. The VCEK/VLEK productName is "Milan-B0"
 * on old certificates (product + stepping) and "Milan", "Genoa", "Turin" on newer ones
 * (SNP.md §2.2, §9); both name the same chain.
 */
import { productFromName as specProductFromName, SNP_PRODUCTS, type SnpProduct } from "../../shared/spec/index.js";

export type { SnpProduct };
export const KNOWN_PRODUCTS: readonly SnpProduct[] = SNP_PRODUCTS;

/** AMD's spelling, as in KDS URLs and certificate names ("Milan"). */
export const PRODUCT_DISPLAY: Readonly<Record<SnpProduct, string>> = { milan: "Milan", genoa: "Genoa", turin: "Turin" };

/** A certificate productName ("Milan-B0" → "milan", "Genoa" → "genoa"); exact, as AMD writes it. */
export function productFromName(name: string): SnpProduct | undefined {
  return specProductFromName(name);
}

/** A user-supplied product, any case ("milan", "Milan", "GENOA", "Milan-B0"). */
export function parseProduct(s: string): SnpProduct | undefined {
  const m = /^([A-Za-z]+)(?:-[A-Za-z][0-9])?$/.exec(s.trim());
  if (!m) return undefined;
  const p = m[1]!.toLowerCase();
  return (KNOWN_PRODUCTS as readonly string[]).includes(p) ? (p as SnpProduct) : undefined;
}
