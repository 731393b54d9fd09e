/**
 * BTF + System.map → Volatility 3 ISF (schema 6.x, format "6.2.0" as dwarf2json writes).
 *
 * - base_types: every BTF int/float type, plus "void" and "pointer" (btf-isf-view.ts).
 * - user_types: every struct/union, or with `types` only the listed ones plus everything
 *   they embed by value (members, arrays, typedef chains, anonymous members), so every
 *   by-value reference resolves. A pointer to a struct/union outside that set is written
 *   as a pointer to void: the output never names a type it does not define.
 * - enums: always all of them (they are small, and constants such as maple_type are
 *   needed without any kept struct mentioning the enum).
 * - symbols: every kernel-image name of System.map with its address (one per name, see
 *   system-map.ts); `type` where known — per-cpu variables (BTF VAR), functions (BTF FUNC,
 *   kind "function"), well-known globals such as init_task (known-symbols.ts) and
 *   linux_banner (char array) — and omitted otherwise, or when the type embeds a type
 *   left out by `types`. linux_banner gets its
 *   `constant_data` (base64 of the text and its NUL) when the banner text is supplied:
 *   neither BTF nor System.map holds it (dwarf2json reads it from vmlinux's .rodata).
 * - metadata: format, producer, and under "linux" the System.map (kind "system-map") and
 *   the BTF (no kind: schema 6.3's kinds are dwarf/symtab/system-map) with their SHA-256.
 *   No timestamp, so the output is a pure function of the inputs.
 */
import { createHash } from "node:crypto";
import type { Btf } from "./btf.js";
import { BtfIsfView, type KeepPredicate } from "./btf-isf-view.js";
import { ProfileError } from "./errors.js";
import {
  bannerType,
  dict,
  ISF_FORMAT,
  ISF_PRODUCER,
  type IsfDocument,
  type IsfEnum,
  type IsfSourceFile,
  type IsfSymbol,
  type IsfTypeDesc,
  type IsfUserType,
} from "./isf-types.js";
import type { SystemMap } from "./system-map.js";

export interface SourceFileInfo {
  /** File name recorded in metadata (a base name, not a path). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface GenerateIsfOptions {
  /** Restrict user_types to these types and what they embed by value. */
  readonly types?: readonly string[];
  /** The linux_banner text, when known from elsewhere (see the file comment). */
  readonly banner?: string;
  /** Recorded in metadata.linux with their SHA-256. */
  readonly btfFile?: SourceFileInfo;
  readonly systemMapFile?: SourceFileInfo;
}

export interface GeneratedIsf {
  readonly document: IsfDocument;
  /** Counts of what the document holds. */
  readonly userTypes: number;
  readonly enums: number;
  readonly baseTypes: number;
  readonly symbols: number;
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Builds the ISF document (see the file comment). */
export function generateIsf(btf: Btf, systemMap: SystemMap, options: GenerateIsfOptions = {}): GeneratedIsf {
  const view = new BtfIsfView(btf);
  const userIds = options.types === undefined ? new Map(view.userTypeIds()) : closure(view, options.types);
  const keep: KeepPredicate | undefined = options.types === undefined ? undefined : (kind, name) => kind === "enum" || userIds.has(name);

  const user_types = dict<IsfUserType>();
  for (const name of [...userIds.keys()].sort()) user_types[name] = view.userType(userIds.get(name)!, keep);

  const enums = dict<IsfEnum>();
  for (const [name, id] of view.enumIds()) enums[name] = view.enumType(id);

  const symbols = dict<IsfSymbol>();
  let symbolCount = 0;
  for (const [name, address] of systemMap.index.entries()) {
    let type: IsfTypeDesc | undefined;
    let constant_data: string | undefined;
    if (name === "linux_banner" && options.banner !== undefined) {
      type = bannerType(options.banner);
      const text = new TextEncoder().encode(options.banner);
      const withNul = new Uint8Array(text.length + 1);
      withNul.set(text);
      constant_data = Buffer.from(withNul).toString("base64");
    } else type = view.symbolType(name, keep);
    const sym: IsfSymbol = { address, ...(type !== undefined ? { type } : {}), ...(constant_data !== undefined ? { constant_data } : {}) };
    symbols[name] = sym;
    symbolCount++;
  }

  const source = (f: SourceFileInfo, kind?: IsfSourceFile["kind"]): IsfSourceFile => ({
    ...(kind !== undefined ? { kind } : {}),
    name: f.name,
    hash_type: "sha256",
    hash_value: sha256(f.bytes),
  });
  const linux: { symbols?: IsfSourceFile[]; types?: IsfSourceFile[] } = {};
  if (options.systemMapFile !== undefined) linux.symbols = [source(options.systemMapFile, "system-map")];
  if (options.btfFile !== undefined) linux.types = [source(options.btfFile)];

  const base_types = view.baseTypes();
  const document: IsfDocument = {
    metadata: { format: ISF_FORMAT, producer: { ...ISF_PRODUCER }, linux },
    base_types,
    user_types,
    enums,
    symbols,
  };
  return {
    document,
    userTypes: Object.keys(user_types).length,
    enums: Object.keys(enums).length,
    baseTypes: Object.keys(base_types).length,
    symbols: symbolCount,
  };
}

/** The requested user types and everything they embed by value: ISF name → id. */
function closure(view: BtfIsfView, types: readonly string[]): Map<string, number> {
  const unknown = types.filter((t) => view.userTypeId(t) === undefined);
  if (unknown.length > 0) {
    throw new ProfileError("UNKNOWN_TYPE", `no struct or union named ${unknown.map((u) => JSON.stringify(u)).join(", ")}`, { types: unknown });
  }
  const out = new Map<string, number>();
  const work = types.map((t) => view.userTypeId(t)!);
  while (work.length > 0) {
    const id = work.pop()!;
    const name = view.nameOf(id);
    if (out.has(name)) continue;
    out.set(name, view.userTypeId(name) ?? id);
    for (const dep of view.byValueDeps(id)) if (!out.has(view.nameOf(dep))) work.push(dep);
  }
  return out;
}
