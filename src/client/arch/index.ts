export {
  DEFAULT_PAGING, canonicalize, pagingConfig, pagingFromRegisters, ptiKernelDtb, ptiUserDtb, tableReader, translate, translateBatch, walkCost,
} from "./x86-64.js";
export type { PagingConfig, TableReader, TranslateRequest, Translation } from "./x86-64.js";
