/** Raw images: the file is guest-physical memory from `baseGpa` (default 0) on, flat. */
import { ImageDecodeError } from "./image-error.js";
import type { ByteSource } from "./byte-source.js";
import type { Segment } from "./segment-map.js";

export function parseRaw(source: ByteSource, baseGpa = 0n): Segment[] {
  if (source.size === 0) throw new ImageDecodeError("raw", source.name, "EMPTY", "the file is empty");
  if (baseGpa < 0n || baseGpa + BigInt(source.size) > 1n << 64n) {
    throw new ImageDecodeError("raw", source.name, "BAD_BASE", `base 0x${baseGpa.toString(16)} puts the image outside the address space`);
  }
  return [{ gpa: baseGpa, len: BigInt(source.size), fileOffset: 0, fileLen: source.size }];
}
