/**
 * AMD KDS certificate extension OIDs (SNP.md §2.2), in the shape the client's readers
 * use; the values come from the shared spec (src/shared/spec/kds.ts).
 */
import { AMD_OID_PREFIX, KDS_OID } from "../../shared/spec/index.js";

export const AMD_OID = {
  PREFIX: AMD_OID_PREFIX,
  STRUCT_VERSION: KDS_OID.STRUCT_VERSION,
  PRODUCT_NAME: KDS_OID.PRODUCT_NAME,
  BL_SPL: KDS_OID.BL_SPL,
  TEE_SPL: KDS_OID.TEE_SPL,
  SNP_SPL: KDS_OID.SNP_SPL,
  UCODE_SPL: KDS_OID.UCODE_SPL,
  FMC_SPL: KDS_OID.FMC_SPL,
  RESERVED_SPLS: { spl4: KDS_OID.SPL_4, spl5: KDS_OID.SPL_5, spl6: KDS_OID.SPL_6, spl7: KDS_OID.SPL_7 },
  HW_ID: KDS_OID.HW_ID,
  CSP_ID: KDS_OID.CSP_ID,
} as const;
