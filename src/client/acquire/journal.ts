/**
 * The journal of an acquisition in progress (`FILE.journal` next to `FILE.partial`): what
 * is being written (format, ranges, chunk size, the source's identity) and how far it got
 * (bytes of the output file, bytes of guest memory). It is rewritten atomically after
 * every chunk; a resumed dump checks that it continues the same job, truncates the
 * partial file to the journal's length and carries on from there.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { AcquireError } from "./errors.js";

export type DumpFormat = "lime" | "elf" | "raw";

export interface DumpJournal {
  readonly version: 1;
  readonly format: DumpFormat;
  /** "0x…" start and length of each range, ascending. */
  readonly ranges: readonly { readonly gpa: string; readonly len: string }[];
  readonly chunkSize: number;
  /** Who was dumped (endpoint and measurement, or the image path): a resume must match. */
  readonly source: string;
  readonly totalBytes: string;
  /** Bytes of FILE.partial known to be complete. */
  fileBytes: number;
  /** Bytes of guest memory those contain. */
  dataBytes: string;
  readonly startedAt: string;
  updatedAt: string;
}

export async function readJournal(path: string): Promise<DumpJournal> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new AcquireError("NO_JOURNAL", `cannot resume: no journal ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { path });
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new AcquireError("BAD_JOURNAL", `cannot resume: the journal ${path} is not JSON`, { path });
  }
  const o = j as Partial<DumpJournal>;
  if (
    o.version !== 1 ||
    (o.format !== "lime" && o.format !== "elf" && o.format !== "raw") ||
    !Array.isArray(o.ranges) ||
    typeof o.chunkSize !== "number" ||
    typeof o.source !== "string" ||
    typeof o.fileBytes !== "number" ||
    typeof o.dataBytes !== "string" ||
    typeof o.totalBytes !== "string"
  ) {
    throw new AcquireError("BAD_JOURNAL", `cannot resume: the journal ${path} is damaged`, { path });
  }
  return o as DumpJournal;
}

export async function writeJournal(path: string, j: DumpJournal): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(j, null, 2) + "\n");
  await rename(tmp, path);
}
