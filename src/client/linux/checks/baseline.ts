/**
 * Kernel-text baselines: per-page SHA-256 digests of [_stext, _etext) recorded by the
 * owner when the system is known good, compared on later runs. Text bytes depend on the
 * KASLR slide (relocations), so a baseline is tied to the banner and the slide. The file
 * is untrusted input: anything but a document we wrote is BASELINE_INVALID.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { LinuxError } from "../errors.js";

export interface TextBaseline {
  readonly format: "seven-text-baseline";
  readonly version: 1;
  readonly banner: string;
  /** Hex strings. */
  readonly virtSlide: string;
  readonly textStart: string;
  readonly textEnd: string;
  readonly pageSize: number;
  /** SHA-256 of each page (hex, 64 characters), in order. */
  readonly pages: readonly string[];
  /** SHA-256 of the whole range. */
  readonly digest: string;
  readonly recordedAt?: string;
}

export interface BaselineStore {
  /** Where it lives, for notes ("file /x/y.json", "memory"). */
  readonly where: string;
  load(): Promise<TextBaseline | undefined>;
  save(b: TextBaseline): Promise<void>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEXNUM = /^0x[0-9a-f]{1,16}$/;

/** Validates an untrusted baseline document. */
export function parseBaseline(text: string, where = "baseline"): TextBaseline {
  const bad = (reason: string): LinuxError => new LinuxError("BASELINE_INVALID", `${where} is not a kernel-text baseline: ${reason}`, { where, reason });
  if (text.length > 64 << 20) throw bad("too large");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("not an object");
  const o = v as Record<string, unknown>;
  if (o["format"] !== "seven-text-baseline") throw bad("wrong format tag");
  if (o["version"] !== 1) throw bad("unsupported version");
  for (const f of ["virtSlide", "textStart", "textEnd"]) if (typeof o[f] !== "string" || !HEXNUM.test(o[f] as string)) throw bad(`bad ${f}`);
  if (typeof o["banner"] !== "string" || (o["banner"] as string).length > 1024) throw bad("bad banner");
  if (o["pageSize"] !== 4096) throw bad("bad pageSize");
  if (typeof o["digest"] !== "string" || !HEX64.test(o["digest"] as string)) throw bad("bad digest");
  const pages = o["pages"];
  if (!Array.isArray(pages) || pages.length > 1 << 20 || !pages.every((p) => typeof p === "string" && HEX64.test(p))) throw bad("bad pages");
  const start = BigInt(o["textStart"] as string);
  const end = BigInt(o["textEnd"] as string);
  if (end <= start || (end - start + 4095n) / 4096n !== BigInt(pages.length)) throw bad("page count does not match the range");
  return o as unknown as TextBaseline;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export function fileBaselineStore(path: string): BaselineStore {
  return {
    where: `file ${path}`,
    async load() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (e) {
        if ((e as { code?: string }).code === "ENOENT") return undefined;
        throw new LinuxError("BASELINE_INVALID", `cannot read baseline ${path}: ${(e as Error).message}`, { path, reason: "unreadable" });
      }
      return parseBaseline(text, `baseline ${path}`);
    },
    async save(b) {
      await writeAtomic(path, JSON.stringify(b, null, 1) + "\n");
    },
  };
}

export function memoryBaselineStore(initial?: TextBaseline): BaselineStore & { current: TextBaseline | undefined } {
  const s = {
    where: "memory",
    current: initial,
    load: () => Promise.resolve(s.current),
    save: (b: TextBaseline) => {
      s.current = b;
      return Promise.resolve();
    },
  };
  return s;
}
