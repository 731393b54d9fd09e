/**
 * Batched physical probing: read a small window at one place in every 2 MiB of guest
 * memory (where a kernel-image address with given low 21 bits must be, since both the
 * kernel's physical and virtual placement move in 2 MiB steps), in large scatter-gather
 * batches, and keep the places whose bytes start with a signature.
 */
import { type Vmi, pa, VmiError } from "../../vmi/index.js";
import { KERNEL_ALIGN, KERNEL_ALIGN_MASK } from "../constants.js";

export interface ProbeHit {
  readonly pa: bigint;
  readonly bytes: Uint8Array;
}

/** Every guest-physical address ≡ `lowBits` (mod 2 MiB) where `len` bytes fit in a backed range. */
export function alignedCandidates(vmi: Vmi, lowBits: bigint, len: number): bigint[] {
  const low = lowBits & KERNEL_ALIGN_MASK;
  const out: bigint[] = [];
  for (const r of vmi.info.memoryRanges) {
    const end = r.gpa + r.len;
    for (let a = (r.gpa & ~KERNEL_ALIGN_MASK) + low; a + BigInt(len) <= end; a += KERNEL_ALIGN) {
      if (a >= r.gpa) out.push(a);
    }
  }
  return out;
}

export function startsWith(b: Uint8Array, sig: Uint8Array): boolean {
  if (b.length < sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[i] !== sig[i]) return false;
  return true;
}

/** Reads `len` bytes at each candidate (batched) and returns those starting with `sig`. */
export async function probe(vmi: Vmi, candidates: readonly bigint[], len: number, sig: Uint8Array, batch = 4096): Promise<ProbeHit[]> {
  const hits: ProbeHit[] = [];
  for (let i = 0; i < candidates.length; i += batch) {
    const part = candidates.slice(i, i + batch);
    const res = await vmi.readManySettled(part.map((a) => ({ ctx: pa(a), len })));
    res.forEach((r, k) => {
      if (!(r instanceof VmiError) && startsWith(r, sig)) hits.push({ pa: part[k]!, bytes: r });
    });
  }
  return hits;
}

/** Full scan of every backed range for `sig`, in chunks (diagnostics only). */
export async function scanAll(vmi: Vmi, sig: Uint8Array, maxHits = 16, chunk = 16 << 20): Promise<bigint[]> {
  const out: bigint[] = [];
  const needle = Buffer.from(sig);
  for (const r of vmi.info.memoryRanges) {
    for (let a = r.gpa; a < r.gpa + r.len && out.length < maxHits; a += BigInt(chunk)) {
      const len = Number(r.gpa + r.len - a < BigInt(chunk + sig.length) ? r.gpa + r.len - a : BigInt(chunk + sig.length));
      const [b] = await vmi.readManySettled([{ ctx: pa(a), len }]);
      if (b instanceof VmiError || b === undefined) continue;
      const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      for (let at = buf.indexOf(needle); at >= 0 && at < chunk && out.length < maxHits; at = buf.indexOf(needle, at + 1)) out.push(a + BigInt(at));
    }
  }
  return out;
}
