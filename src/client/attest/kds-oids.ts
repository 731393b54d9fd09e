/**
 * AMD KDS certificate extension OIDs (SNP.md §2.2). Temporary local table until
 * src/shared/spec/kds.ts lands; then this file re-exports from there.
 */
const P = "1.3.6.1.4.1.3704.1";
export const AMD_OID = {
  PREFIX: P,
  STRUCT_VERSION: `${P}.1`,
  PRODUCT_NAME: `${P}.2`,
  BL_SPL: `${P}.3.1`,
  TEE_SPL: `${P}.3.2`,
  SNP_SPL: `${P}.3.3`,
  UCODE_SPL: `${P}.3.8`,
  FMC_SPL: `${P}.3.9`,
  RESERVED_SPLS: { spl4: `${P}.3.4`, spl5: `${P}.3.5`, spl6: `${P}.3.6`, spl7: `${P}.3.7` },
  HW_ID: `${P}.4`,
  CSP_ID: `${P}.5`,
} as const;
