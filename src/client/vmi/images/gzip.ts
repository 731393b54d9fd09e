/**
 * Decompresses a gzip file once into memory, reporting progress. The input is untrusted:
 * corrupt or truncated streams become `GzipDecodeError`, and output beyond `maxBytes`
 * (a decompression bomb, or simply too big for memory) stops with TOO_LARGE.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { constants as bufferConstants } from "node:buffer";
import { createGunzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import { GzipDecodeError } from "./image-error.js";
import { MemorySource } from "./byte-source.js";

export interface LoadProgress {
  readonly phase: "decompress";
  /** Compressed bytes consumed so far. */
  readonly done: number;
  /** Compressed file size. */
  readonly total: number;
  /** Decompressed bytes so far. */
  readonly output: number;
}

export interface GunzipOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Upper bound on the decompressed size (default: the largest Buffer Node allows). */
  maxBytes?: number;
}

export const GZIP_MAGIC = [0x1f, 0x8b] as const;

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** Decompresses `path` into a MemorySource named after the file. */
export async function gunzipFile(path: string, opts: GunzipOptions = {}): Promise<MemorySource> {
  const maxBytes = Math.min(opts.maxBytes ?? bufferConstants.MAX_LENGTH, bufferConstants.MAX_LENGTH);
  const { size: total, hint } = await sizeAndHint(path);
  if (total < 18) throw new GzipDecodeError(path, "TRUNCATED", `only ${total} bytes, shorter than any gzip stream`, { size: total });

  // ISIZE (the last 4 bytes) is the size mod 2^32 of the last member: a hint, never trusted.
  // Deflate cannot expand more than ~1032:1, which bounds what a lying hint can make us allocate.
  let buf = new Uint8Array(Math.max(1 << 20, Math.min(hint, total * 1032, maxBytes)));
  let len = 0;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  let tooLarge = false;
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), gunzip, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        if (len + chunk.length > maxBytes) {
          tooLarge = true;
          throw new GzipDecodeError(path, "TOO_LARGE", `decompresses to more than ${maxBytes} bytes`, { maxBytes });
        }
        if (len + chunk.length > buf.length) {
          const grown = new Uint8Array(Math.min(maxBytes, Math.max(buf.length * 2, len + chunk.length)));
          grown.set(buf.subarray(0, len));
          buf = grown;
        }
        buf.set(chunk, len);
        len += chunk.length;
        opts.onProgress?.({ phase: "decompress", done: gunzip.bytesWritten, total, output: len });
      }
    });
  } catch (e) {
    // The pipeline may report its own abort instead of the error that caused it.
    if (tooLarge) throw new GzipDecodeError(path, "TOO_LARGE", `decompresses to more than ${maxBytes} bytes`, { maxBytes });
    if (e instanceof GzipDecodeError) throw e;
    const code = (e as { code?: unknown }).code;
    if (code === "Z_BUF_ERROR") {
      throw new GzipDecodeError(path, "TRUNCATED", "the compressed stream ends early", { output: len });
    }
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new GzipDecodeError(path, "BAD_GZIP", `corrupt compressed data (${code})`, { zlib: code, output: len });
    }
    throw e;
  }
  opts.onProgress?.({ phase: "decompress", done: total, total, output: len });
  const bytes = len === buf.length ? buf : len < buf.length - (buf.length >> 3) ? buf.slice(0, len) : buf.subarray(0, len);
  return new MemorySource(bytes, path);
}

async function sizeAndHint(path: string): Promise<{ size: number; hint: number }> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size < 4) return { size, hint: 0 };
    const t = new Uint8Array(4);
    await fh.read(t, 0, 4, size - 4);
    return { size, hint: (t[0]! | (t[1]! << 8) | (t[2]! << 16) | (t[3]! << 24)) >>> 0 };
  } finally {
    await fh.close();
  }
}
