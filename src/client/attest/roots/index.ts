/**
 * AMD's real certificates, built in: ARK (root), ASK (signs VCEKs) and ASVK (signs
 * VLEKs) for Milan, Genoa and Turin. Nothing else is ever added here — another root
 * (such as the simulator's) is trusted only when a caller passes it explicitly.
 */
import type { SnpProduct } from "../product.js";
import { GENOA_ARK_PEM, GENOA_ASK_PEM, GENOA_ASVK_PEM } from "./genoa.js";
import { MILAN_ARK_PEM, MILAN_ASK_PEM, MILAN_ASVK_PEM } from "./milan.js";
import { TURIN_ARK_PEM, TURIN_ASK_PEM, TURIN_ASVK_PEM } from "./turin.js";

export interface BuiltinChainPem {
  readonly ark: string;
  readonly ask: string;
  readonly asvk: string;
}

export const AMD_BUILTIN_PEM: Readonly<Record<SnpProduct, BuiltinChainPem>> = Object.freeze({
  milan: Object.freeze({ ark: MILAN_ARK_PEM, ask: MILAN_ASK_PEM, asvk: MILAN_ASVK_PEM }),
  genoa: Object.freeze({ ark: GENOA_ARK_PEM, ask: GENOA_ASK_PEM, asvk: GENOA_ASVK_PEM }),
  turin: Object.freeze({ ark: TURIN_ARK_PEM, ask: TURIN_ASK_PEM, asvk: TURIN_ASVK_PEM }),
});
