/**
 * Opening memory images: format detection by magic (ELF, LiME, else raw), gzip
 * decompressed once into memory with progress, uncompressed files read in place.
 */
import { open } from "node:fs/promises";
import { gunzipFile, isGzip, type LoadProgress } from "./gzip.js";
import { FileSource, MemorySource, type ByteSource } from "./byte-source.js";
import { ImageDriver } from "./image-driver.js";
import { looksLikeElf, parseElfCore } from "./elf-core.js";
import { looksLikeLime, parseLime } from "./lime.js";
import { parseRaw } from "./raw.js";
import { ImageDecodeError, type ImageFormat } from "./image-error.js";

export type ImageKind = Exclude<ImageFormat, "gzip">;

export interface OpenImageOptions {
  /** Default "auto": ELF magic → elf-core, LiME magic → lime, anything else → raw. */
  format?: ImageKind | "auto";
  /** Progress of gzip decompression. */
  onProgress?: (p: LoadProgress) => void;
  /** Bound on the decompressed size of gzip images. */
  maxBytes?: number;
  /** Load uncompressed files into memory too (gzip images always are). */
  inMemory?: boolean;
  /** Allow writePhys (in-memory images only; changes are never written back to the file). */
  writable?: boolean;
  /** Guest-physical address of the first byte of a raw image (default 0). */
  rawBase?: bigint;
}

export function detectFormat(head: Uint8Array): ImageKind {
  if (looksLikeElf(head)) return "elf-core";
  if (looksLikeLime(head)) return "lime";
  return "raw";
}

export async function openImage(path: string, opts: OpenImageOptions = {}): Promise<ImageDriver> {
  const head = await readHead(path);
  let source: ByteSource;
  if (isGzip(head)) {
    source = await gunzipFile(path, gzipOptions(opts));
  } else if (opts.inMemory || opts.writable) {
    const f = await FileSource.open(path);
    try {
      source = new MemorySource(await f.read(0, f.size), path);
    } finally {
      await f.close();
    }
  } else {
    source = await FileSource.open(path);
  }
  try {
    return await openImageSource(source, opts);
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** Opens an image held in memory (tests, images received over the wire). */
export function openImageBytes(bytes: Uint8Array, name = "<memory>", opts: OpenImageOptions = {}): Promise<ImageDriver> {
  return openImageSource(new MemorySource(bytes, name), opts);
}

export async function openImageSource(source: ByteSource, opts: OpenImageOptions = {}): Promise<ImageDriver> {
  const head = await source.read(0, Math.min(16, source.size));
  const format = opts.format === undefined || opts.format === "auto" ? detectFormat(head) : opts.format;
  const writable = opts.writable ?? false;
  if (writable && source.write === undefined) {
    throw new ImageDecodeError(format, source.name, "NOT_WRITABLE", "only in-memory images can be opened writable");
  }
  switch (format) {
    case "raw":
      return new ImageDriver({ format, source, segments: parseRaw(source, opts.rawBase ?? 0n), writable });
    case "lime":
      return new ImageDriver({ format, source, segments: await parseLime(source), writable });
    case "elf-core": {
      const core = await parseElfCore(source);
      return new ImageDriver({ format, source, segments: core.segments, vcpus: core.vcpus, notes: core.notes, writable });
    }
  }
}

function gzipOptions(opts: OpenImageOptions): { onProgress?: (p: LoadProgress) => void; maxBytes?: number } {
  const o: { onProgress?: (p: LoadProgress) => void; maxBytes?: number } = {};
  if (opts.onProgress) o.onProgress = opts.onProgress;
  if (opts.maxBytes !== undefined) o.maxBytes = opts.maxBytes;
  return o;
}

async function readHead(path: string): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    const b = new Uint8Array(16);
    const { bytesRead } = await fh.read(b, 0, 16, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
