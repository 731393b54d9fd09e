/**
 * Linux kernel type information: BTF, System.map, Volatility 3 ISF profiles, and the
 * `Profile` both the guest model and the client's forensics read offsets from.
 * Imports only shared/base.
 */
export * from "./errors.js";
export * from "./btf-format.js";
export { parseBtf, Btf, type BtfHeader, type Endian } from "./btf.js";
export { parseSystemMap, SystemMap, type SystemMapEntry } from "./system-map.js";
export { SymbolIndex, preferredAlias, type SymbolHit } from "./symbol-index.js";
export { parseJson, stringifyJson, type JsonValue, type JsonObject, type JsonInput, type ParseJsonOptions, type StringifyOptions } from "./json.js";
export * from "./isf-types.js";
export { BtfIsfView, type KeepPredicate } from "./btf-isf-view.js";
export { validateIsf } from "./isf-validate.js";
export { generateIsf, type GenerateIsfOptions, type GeneratedIsf, type SourceFileInfo } from "./isf-generate.js";
export { decodeIsf, isfProfile, loadIsfProfile, isGzip, type DecodeIsfOptions } from "./isf-load.js";
export { btfProfile, loadBtfProfile, type BtfProfileOptions } from "./btf-profile.js";
export { KernelProfile, type Profile, type MemberInfo, type MemberPath, type TypeSource } from "./profile.js";
export {
  encodeIsf,
  isfEncodingFor,
  writeFileAtomic,
  parseTypeList,
  generateIsfFromFiles,
  loadIsfProfileFile,
  loadBtfProfileFiles,
  type GenerateIsfFilesOptions,
  type GenerateIsfFilesResult,
} from "./isf-files.js";
export { FORENSICS_PROFILE_TYPES } from "./profile-types.js";
export { KNOWN_SYMBOL_TYPES } from "./known-symbols.js";
export {
  resolveMembers,
  resolveOffsets,
  resolveSymbols,
  type OffsetSpec,
  type ResolvedMembers,
  type ResolvedOffsets,
  type ResolvedSymbols,
  type MissingMember,
} from "./offsets.js";
