/**
 * Trust anchors: AMD's built-in ARKs (one per product, with their ASK and ASVK) and any
 * roots a caller passes explicitly. Built-ins are parsed once and never extended.
 */
import { decodeCertificates, parseCertificate, type Certificate } from "./certificate.js";
import type { SnpProduct } from "./product.js";
import { AMD_BUILTIN_PEM } from "./roots/index.js";

export interface BuiltinChain {
  readonly product: SnpProduct;
  readonly ark: Certificate;
  readonly ask: Certificate;
  readonly asvk: Certificate;
}

const cache = new Map<SnpProduct, BuiltinChain>();

function one(pem: string): Certificate {
  const [der] = decodeCertificates(pem);
  return parseCertificate(der!);
}

/** AMD's ARK, ASK and ASVK for a product (parsed from the built-in PEMs). */
export function builtinChain(product: SnpProduct): BuiltinChain {
  let c = cache.get(product);
  if (!c) {
    const pem = AMD_BUILTIN_PEM[product];
    c = Object.freeze({ product, ark: one(pem.ark), ask: one(pem.ask), asvk: one(pem.asvk) });
    cache.set(product, c);
  }
  return c;
}

export type AnchorSource = "builtin" | "explicit";

export interface TrustAnchor {
  readonly cert: Certificate;
  readonly source: AnchorSource;
}

/** The anchors trusted for `product`: its built-in ARK, then the explicit roots. */
export function anchorsFor(product: SnpProduct | undefined, explicit: readonly Certificate[]): TrustAnchor[] {
  const out: TrustAnchor[] = [];
  if (product !== undefined) out.push({ cert: builtinChain(product).ark, source: "builtin" });
  for (const cert of explicit) out.push({ cert, source: "explicit" });
  return out;
}
