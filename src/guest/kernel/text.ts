/**
 * Deterministic "code" bytes. Kernel text is a function of the kernel build only (not of
 * the seed, not of KASLR), so a text-hash baseline taken on one run holds on every run;
 * module and user-binary text are functions of their names. AES-256-CTR over zeros with
 * a key derived from the label: fast and reproducible.
 */
import { createCipheriv, createHash } from "node:crypto";
import { REAL_UTSNAME } from "../data/real-kernel-data.generated.js";

export function codeBytes(label: string, offset: number, length: number): Uint8Array {
  const key = createHash("sha256").update("00seven/guest/code/").update(label).digest();
  // Counter block = offset / 16; start mid-block by dropping the leading bytes.
  const block = Math.floor(offset / 16);
  const skip = offset % 16;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const c = createCipheriv("aes-256-ctr", key, iv);
  const out = c.update(Buffer.alloc(skip + length));
  c.final();
  return new Uint8Array(out.buffer, out.byteOffset + skip, length);
}

/** The label of this kernel's text (its release). */
export const KERNEL_TEXT_LABEL = `vmlinux-${REAL_UTSNAME.release}`;

/** Bytes of kernel text at un-slid offset `offset` from _text. */
export function kernelTextBytes(offset: number, length: number): Uint8Array {
  return codeBytes(KERNEL_TEXT_LABEL, offset, length);
}
