/**
 * Files: writing ISF documents (deterministic bytes, atomic replace) and loading profiles
 * from paths. `generateIsfFromFiles` is the library side of
 * `seven profile from-btf --btf FILE --system-map FILE [--types LIST] --out FILE.json[.gz]`.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { parseBtf } from "./btf.js";
import { loadBtfProfile, type BtfProfileOptions } from "./btf-profile.js";
import { ProfileError } from "./errors.js";
import { generateIsf } from "./isf-generate.js";
import { loadIsfProfile, type DecodeIsfOptions } from "./isf-load.js";
import type { IsfDocument } from "./isf-types.js";
import { stringifyJson, type JsonInput } from "./json.js";
import type { Profile } from "./profile.js";
import { parseSystemMap } from "./system-map.js";

/** Serialized ISF: deterministic JSON (json.ts), gzipped (level 9, no name, mtime 0) if asked. */
export function encodeIsf(doc: IsfDocument, options: { gzip: boolean }): Uint8Array {
  const text = new TextEncoder().encode(stringifyJson(doc as unknown as JsonInput));
  return options.gzip ? new Uint8Array(gzipSync(text, { level: 9 })) : text;
}

/** ".json" → plain, ".json.gz" → gzip; anything else is refused. */
export function isfEncodingFor(path: string): { gzip: boolean } {
  if (path.endsWith(".json.gz")) return { gzip: true };
  if (path.endsWith(".json")) return { gzip: false };
  throw new ProfileError("BAD_ARGUMENT", `output file ${JSON.stringify(path)} must end in .json or .json.gz`, { path });
}

/** Writes a file by writing a temporary sibling and renaming it over the target. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, bytes, { flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new ProfileError("FILE_ERROR", `cannot read the ${what} ${JSON.stringify(path)}: ${(e as Error).message}`, { path, what });
  }
}

/** Splits a --types LIST (commas and/or whitespace), dropping empties and duplicates. */
export function parseTypeList(list: string): string[] {
  return [...new Set(list.split(/[\s,]+/).filter((t) => t !== ""))];
}

export interface GenerateIsfFilesOptions {
  readonly btfPath: string;
  readonly systemMapPath: string;
  /** Restrict user_types (see isf-generate.ts); an array or a --types LIST string. */
  readonly types?: readonly string[] | string;
  /** Output path ending in .json or .json.gz. */
  readonly outPath: string;
  /** The linux_banner text, when known (see isf-generate.ts). */
  readonly banner?: string;
}

export interface GenerateIsfFilesResult {
  /** user_types written */
  readonly types: number;
  readonly symbols: number;
  /** bytes written */
  readonly bytes: number;
}

/**
 * Reads and validates BTF and System.map, generates the ISF and writes it atomically.
 * Throws DecodeError for malformed inputs, ProfileError for bad arguments (output name,
 * unknown --types names) and unreadable files.
 */
export async function generateIsfFromFiles(options: GenerateIsfFilesOptions): Promise<GenerateIsfFilesResult> {
  const encoding = isfEncodingFor(options.outPath);
  const types = typeof options.types === "string" ? parseTypeList(options.types) : options.types;
  if (types !== undefined && types.length === 0) throw new ProfileError("BAD_ARGUMENT", "--types lists no type", {});
  const btfBytes = await readInput(options.btfPath, "BTF file");
  const mapBytes = await readInput(options.systemMapPath, "System.map");
  const generated = generateIsf(parseBtf(btfBytes), parseSystemMap(mapBytes), {
    ...(types !== undefined ? { types } : {}),
    ...(options.banner !== undefined ? { banner: options.banner } : {}),
    btfFile: { name: basename(options.btfPath), bytes: btfBytes },
    systemMapFile: { name: basename(options.systemMapPath), bytes: mapBytes },
  });
  const out = encodeIsf(generated.document, encoding);
  await writeFileAtomic(options.outPath, out);
  return { types: generated.userTypes, symbols: generated.symbols, bytes: out.length };
}

/** Loads an ISF profile file (.json or .json.gz; the content decides whether it is gzip). */
export async function loadIsfProfileFile(path: string, options: DecodeIsfOptions = {}): Promise<Profile> {
  return loadIsfProfile(await readInput(path, "ISF profile"), options);
}

/** Loads a profile from a BTF file and a System.map file. */
export async function loadBtfProfileFiles(btfPath: string, systemMapPath: string, options: BtfProfileOptions = {}): Promise<Profile> {
  const btf = await readInput(btfPath, "BTF file");
  const map = await readInput(systemMapPath, "System.map");
  return loadBtfProfile(btf, map, options);
}
