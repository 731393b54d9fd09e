/**
 * LiME images: a sequence of (32-byte header, range bytes). Untrusted: every header is
 * checked (magic, version, ordered addresses, length within the file, no overlap), and
 * the walk advances by at least 33 bytes per range, so it always ends.
 */
import { LIME_HEADER, LIME_MAGIC, LIME_VERSION } from "./lime-layout.js";
import { LimeDecodeError } from "./image-error.js";
import type { ByteSource } from "./byte-source.js";
import { findOverlap, type Segment } from "./segment-map.js";

export function looksLikeLime(head: Uint8Array): boolean {
  return head.length >= 4 && (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0 === LIME_MAGIC;
}

export async function parseLime(source: ByteSource): Promise<Segment[]> {
  const file = source.name;
  const segments: Segment[] = [];
  let off = 0;
  if (source.size === 0) throw new LimeDecodeError(file, "EMPTY", "the file is empty");
  while (off < source.size) {
    if (source.size - off < LIME_HEADER.size) {
      throw new LimeDecodeError(file, "TRUNCATED", `range header ${segments.length} at offset ${off} is cut short`, { offset: off, index: segments.length });
    }
    const h = LIME_HEADER.parse(await source.read(off, LIME_HEADER.size));
    const at = { offset: off, index: segments.length };
    if (h.magic !== LIME_MAGIC) {
      throw new LimeDecodeError(file, "BAD_MAGIC", `range header ${segments.length} at offset ${off} has magic 0x${h.magic.toString(16)}`, { ...at, magic: h.magic });
    }
    if (h.version !== LIME_VERSION) {
      throw new LimeDecodeError(file, "BAD_VERSION", `range header ${segments.length} has version ${h.version} (only 1 is known)`, { ...at, version: h.version });
    }
    if (h.e_addr < h.s_addr) {
      throw new LimeDecodeError(file, "BAD_RANGE", `range ${segments.length} ends (0x${h.e_addr.toString(16)}) before it starts (0x${h.s_addr.toString(16)})`, { ...at, s_addr: h.s_addr, e_addr: h.e_addr });
    }
    const len = h.e_addr - h.s_addr + 1n;
    const dataOff = off + LIME_HEADER.size;
    if (len > BigInt(source.size - dataOff)) {
      throw new LimeDecodeError(file, "TRUNCATED", `range ${segments.length} claims ${len} bytes, the file has ${source.size - dataOff} left`, { ...at, length: len });
    }
    segments.push({ gpa: h.s_addr, len, fileOffset: dataOff, fileLen: Number(len) });
    off = dataOff + Number(len);
  }
  const ov = findOverlap(segments);
  if (ov) {
    const [a, b] = ov;
    throw new LimeDecodeError(file, "OVERLAP", `ranges ${a} and ${b} overlap`, { first: a, second: b, gpa: segments[b]!.gpa });
  }
  return segments;
}
