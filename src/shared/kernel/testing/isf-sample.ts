/** Test helper: a small valid ISF document (from the sample BTF) and one-field overrides of it. */
import { parseBtf } from "../btf.js";
import { generateIsf } from "../isf-generate.js";
import { encodeIsf } from "../isf-files.js";
import { parseJson, stringifyJson, type JsonObject, type JsonValue } from "../json.js";
import { parseSystemMap } from "../system-map.js";
import { sampleBtf } from "./btf-builder.js";

export const SAMPLE_MAP = ["0000000000000010 A current_task", "ffffffff81000000 T do_thing", "ffffffff82000000 D linux_banner", "ffffffff82000100 D init_task"].join("\n");

/** The sample ISF as JSON text. */
export function sampleIsfText(): string {
  const doc = generateIsf(parseBtf(sampleBtf().bytes), parseSystemMap(SAMPLE_MAP), { banner: "Linux version test\n" }).document;
  return new TextDecoder().decode(encodeIsf(doc, { gzip: false }));
}

export const DELETE = Symbol("delete");

/** The sample with the value at `path` replaced (or deleted), as JSON text. */
export function overrideIsf(path: readonly string[], value: JsonValue | typeof DELETE): string {
  const root = parseJson(sampleIsfText()) as JsonObject;
  let cur = root;
  for (const k of path.slice(0, -1)) cur = cur[k] as JsonObject;
  const last = path[path.length - 1]!;
  if (value === DELETE) delete cur[last];
  else cur[last] = value;
  return stringifyJson(root);
}
