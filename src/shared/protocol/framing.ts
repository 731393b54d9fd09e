/**
 * Size-delimited framing, as protobuf's `writeDelimited`/`parseDelimitedFrom` and the
 * prototype's `handle_pb_prefix.c` do it: every message is preceded by its length as a
 * protobuf varint (LEB128, at most 10 bytes for a u64). Used by v1, v0 and the client.
 *
 * The decoder is incremental and bounded: push bytes in any split, pull complete frames.
 * It never holds more than one frame's worth of bytes beyond what it has handed out
 * (`limit` plus the prefix), rejects a length over `limit` as soon as the prefix is
 * complete, and rejects a prefix that cannot be a varint of at most 10 bytes. After an
 * error the stream cannot be resynchronised: the decoder stays failed.
 */
import { DecodeError } from "../base/index.js";

/** Longest varint of a u64. */
export const MAX_VARINT_BYTES = 10;

export type FramingErrorCode = "FRAME_TOO_LARGE" | "BAD_VARINT" | "BUFFER_FULL";

export class FramingError extends DecodeError {
  override readonly code: FramingErrorCode;
  constructor(code: FramingErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.code = code;
  }
}

/** Protobuf varint of a non-negative integer below 2^64. */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v = typeof value === "bigint" ? value : BigInt(value);
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`varint: ${value} is not a u64`);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Length of the varint encoding of `n` (a safe integer ≥ 0). */
export function varintLength(n: number): number {
  let len = 1;
  let v = n;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    len++;
  }
  return len;
}

/**
 * One frame: the varint length prefix and the message in ONE buffer, so that a single
 * write carries both (LEGACY-PROTOCOL.md: the prototype's client cannot reassemble a
 * prefix split across reads).
 */
export function encodeFrame(message: Uint8Array): Uint8Array {
  const prefix = encodeVarint(message.length);
  const out = new Uint8Array(prefix.length + message.length);
  out.set(prefix, 0);
  out.set(message, prefix.length);
  return out;
}

/** Several frames concatenated into one buffer. */
export function encodeFrames(messages: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  const prefixes = messages.map((m) => {
    const p = encodeVarint(m.length);
    n += p.length + m.length;
    return p;
  });
  const out = new Uint8Array(n);
  let o = 0;
  messages.forEach((m, i) => {
    const p = prefixes[i]!;
    out.set(p, o);
    o += p.length;
    out.set(m, o);
    o += m.length;
  });
  return out;
}

/**
 * Parses one varint at `off`. Returns undefined if the bytes end before the varint does;
 * throws FramingError BAD_VARINT if it runs past 10 bytes or overflows 64 bits.
 */
export function decodeVarint(b: Uint8Array, off = 0): { value: bigint; length: number } | undefined {
  let v = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const at = off + i;
    if (at >= b.length) return undefined;
    const x = b[at]!;
    if (i === MAX_VARINT_BYTES - 1 && x > 1) {
      throw new FramingError("BAD_VARINT", "varint overflows 64 bits", { offset: off });
    }
    v |= BigInt(x & 0x7f) << BigInt(7 * i);
    if ((x & 0x80) === 0) return { value: v, length: i + 1 };
  }
  throw new FramingError("BAD_VARINT", `varint longer than ${MAX_VARINT_BYTES} bytes`, { offset: off });
}

export interface FrameDecoderOptions {
  /** Largest message length accepted (bytes, without the prefix). */
  readonly maxFrameBytes: number;
  /**
   * Most bytes held at once (pushed and not yet pulled as frames); default
   * 2 × (maxFrameBytes + 10). A push beyond it fails with BUFFER_FULL.
   */
  readonly maxBufferedBytes?: number;
  /**
   * Keep pushed bytes as they are instead of copying them (default false): for callers
   * whose buffers nobody writes into after the push, such as a socket's read buffers
   * (fresh for every read). Saves a copy and an allocation per pushed byte.
   */
  readonly adoptPushed?: boolean;
}

/**
 * Incremental, bounded frame decoder. `push` copies bytes in; `next` returns the next
 * complete message (a fresh copy) or undefined. Errors are FramingError only, and sticky.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;
  readonly #adopt: boolean;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Length of the frame being assembled, once its prefix is complete. */
  #want: number | undefined;
  #failed: FramingError | undefined;

  constructor(opts: FrameDecoderOptions) {
    if (!Number.isSafeInteger(opts.maxFrameBytes) || opts.maxFrameBytes < 0) throw new RangeError("maxFrameBytes must be a non-negative integer");
    this.maxFrameBytes = opts.maxFrameBytes;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 2 * (opts.maxFrameBytes + MAX_VARINT_BYTES);
    this.#adopt = opts.adoptPushed === true;
    if (!Number.isSafeInteger(this.maxBufferedBytes) || this.maxBufferedBytes < this.maxFrameBytes + MAX_VARINT_BYTES) {
      throw new RangeError("maxBufferedBytes must hold at least one whole frame");
    }
  }

  /** Bytes held and not yet returned as frames. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the decoder has failed (the stream is unusable). */
  get failed(): FramingError | undefined {
    return this.#failed;
  }

  /**
   * Adds bytes (copied, unless `adoptPushed`). Checks the pending length prefix at once, so a frame over the
   * limit fails before its body arrives. Throws FramingError (sticky).
   */
  push(bytes: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    if (bytes.length === 0) return;
    if (this.#buffered + bytes.length > this.maxBufferedBytes) {
      this.#fail(
        new FramingError("BUFFER_FULL", `${this.#buffered + bytes.length} bytes pending exceed the limit of ${this.maxBufferedBytes}`, {
          buffered: this.#buffered,
          pushed: bytes.length,
          limit: this.maxBufferedBytes,
        }),
      );
    }
    this.#chunks.push(this.#adopt ? bytes : bytes.slice());
    this.#buffered += bytes.length;
    this.#guard(() => this.#readPrefix());
  }

  /** The next complete message, or undefined if more bytes are needed. */
  next(): Uint8Array | undefined {
    if (this.#failed) throw this.#failed;
    return this.#guard(() => {
      if (!this.#readPrefix()) return undefined;
      const want = this.#want!;
      if (this.#buffered < want) return undefined;
      const msg = this.#peek(want);
      this.#consume(want);
      this.#want = undefined;
      return msg;
    });
  }

  /** Parses the next length prefix if there is none pending; true when one is known. */
  #readPrefix(): boolean {
    if (this.#want !== undefined) return true;
    const head = this.#peek(Math.min(this.#buffered, MAX_VARINT_BYTES));
    const v = decodeVarint(head, 0);
    if (v === undefined) return false;
    if (v.value > BigInt(this.maxFrameBytes)) {
      throw new FramingError("FRAME_TOO_LARGE", `frame of ${v.value} bytes exceeds the limit of ${this.maxFrameBytes}`, {
        length: v.value,
        limit: this.maxFrameBytes,
      });
    }
    this.#consume(v.length);
    this.#want = Number(v.value);
    return true;
  }

  #guard<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof FramingError) this.#fail(e);
      throw e;
    }
  }

  #fail(e: FramingError): never {
    this.#failed = e;
    this.#chunks = [];
    this.#buffered = 0;
    this.#want = undefined;
    throw e;
  }

  /** All complete messages available now. */
  drain(max = Number.POSITIVE_INFINITY): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (out.length < max) {
      const m = this.next();
      if (m === undefined) break;
      out.push(m);
    }
    return out;
  }

  /** Copies the first n buffered bytes (n ≤ buffered). */
  #peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.#chunks) {
      if (o >= n) break;
      const take = Math.min(c.length, n - o);
      out.set(c.subarray(0, take), o);
      o += take;
    }
    return out;
  }

  #consume(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= left) {
        this.#chunks.shift();
        left -= c.length;
      } else {
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.#buffered -= n;
  }
}
