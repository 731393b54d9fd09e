/**
 * Where image bytes come from: a buffer in memory (decompressed images, tests) or a file
 * read with positional reads. Offsets are numbers (files stay below 2^53 bytes).
 */
import { open, type FileHandle } from "node:fs/promises";

export interface ByteSource {
  /** Shown in errors: the file path or a label. */
  readonly name: string;
  readonly size: number;
  /** Exactly `len` bytes at `offset` (the caller has checked the bounds). A fresh copy. */
  read(offset: number, len: number): Promise<Uint8Array>;
  /** Synchronous read, when the bytes are in memory. */
  readSync?(offset: number, len: number): Uint8Array;
  /** In-memory sources can be written (changes stay in memory). */
  write?(offset: number, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export class MemorySource implements ByteSource {
  readonly name: string;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array, name = "<memory>") {
    this.#bytes = bytes;
    this.name = name;
  }
  get size(): number {
    return this.#bytes.length;
  }
  readSync(offset: number, len: number): Uint8Array {
    checkBounds(this, offset, len);
    return this.#bytes.slice(offset, offset + len);
  }
  read(offset: number, len: number): Promise<Uint8Array> {
    return Promise.resolve(this.readSync(offset, len));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    checkBounds(this, offset, data.length);
    this.#bytes.set(data, offset);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class FileSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  readonly #fh: FileHandle;
  #closed = false;
  private constructor(name: string, fh: FileHandle, size: number) {
    this.name = name;
    this.#fh = fh;
    this.size = size;
  }
  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, "r");
    try {
      const st = await fh.stat();
      return new FileSource(path, fh, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }
  async read(offset: number, len: number): Promise<Uint8Array> {
    checkBounds(this, offset, len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.#fh.read(out, done, len - done, offset + done);
      if (bytesRead === 0) throw new RangeError(`${this.name}: file shrank while reading at ${offset + done}`);
      done += bytesRead;
    }
    return out;
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }
}

function checkBounds(s: ByteSource, offset: number, len: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len < 0 || offset + len > s.size) {
    throw new RangeError(`${s.name}: read of ${len} bytes at ${offset} outside ${s.size} bytes`);
  }
}

/** Reads from a source synchronously when it can. */
export function readSource(s: ByteSource, offset: number, len: number): Promise<Uint8Array> | Uint8Array {
  return s.readSync ? s.readSync(offset, len) : s.read(offset, len);
}
