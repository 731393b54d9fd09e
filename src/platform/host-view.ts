/**
 * The hypervisor's view of guest memory (SNP.md §4.5, "host side"): reads are not
 * RMP-checked, but a guest-assigned page reads as ciphertext — AES-256-XTS under a per-VM
 * key, tweaked by the page's GPA, so equal plaintext pages give different ciphertext.
 * Writes to a guest-assigned (or immutable) page raise #PF with PF_ERROR.RMP
 * (HostPageFault); shared pages are plain in both directions. On a non-SEV machine
 * everything is plaintext.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Gpa } from "../shared/base/index.js";
import { PF_ERROR } from "../shared/spec/index.js";
import { HostPageFault, PlatformError } from "./fault.js";
import type { GuestMemory } from "./memory.js";
import { PAGE } from "./memory.js";
import type { RmpTable } from "./rmp-table.js";

/**
 * AES-256-XTS with the GPA of the page as the tweak (one 4 KiB data unit per page): the
 * guest key's view of DRAM. `encryptPage` is what the DRAM holds for a page of guest
 * plaintext (what the host, or a C=0 access, reads); `decryptPage` is what a C=1 access
 * reads from DRAM bytes written without the guest key.
 */
export class MemoryCipher {
  readonly #key: Buffer;
  readonly #iv = Buffer.alloc(16);

  constructor(key: Uint8Array) {
    if (key.length !== 64) throw new PlatformError("BAD_ARGUMENT", "AES-256-XTS needs a 64-byte key");
    this.#key = Buffer.from(key);
  }

  /** Ciphertext of one 4 KiB page of plaintext at GPA `gpa` (page-aligned). */
  encryptPage(gpa: number, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv("aes-256-xts", this.#key, this.#tweak(gpa));
    return asBytes(c.update(plaintext), c.final());
  }

  /** Plaintext (under the guest key) of one 4 KiB page of DRAM bytes at GPA `gpa`. */
  decryptPage(gpa: number, ciphertext: Uint8Array): Uint8Array {
    const d = createDecipheriv("aes-256-xts", this.#key, this.#tweak(gpa));
    return asBytes(d.update(ciphertext), d.final());
  }

  #tweak(gpa: number): Buffer {
    const iv = this.#iv;
    iv.fill(0);
    iv.writeUIntLE(Math.floor(gpa / 2 ** 24), 3, 5);
    iv.writeUIntLE(gpa % 2 ** 24, 0, 3);
    return iv;
  }
}

/** XTS over whole 4 KiB units: `final()` adds nothing. */
function asBytes(out: Buffer, rest: Buffer): Uint8Array {
  if (rest.length !== 0) throw new PlatformError("BAD_ARGUMENT", "AES-XTS page transform produced trailing bytes");
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const ZERO_PAGE = new Uint8Array(PAGE);
/** #PF error code of a host write to a guest-assigned page: P | W | RMP. */
export const HOST_WRITE_RMP_FAULT = (PF_ERROR.P | PF_ERROR.W | PF_ERROR.RMP) >>> 0;

export class HostView {
  readonly #mem: GuestMemory;
  readonly #rmp: RmpTable | undefined;
  readonly #cipher: MemoryCipher | undefined;

  constructor(mem: GuestMemory, rmp: RmpTable | undefined, cipher: MemoryCipher | undefined) {
    this.#mem = mem;
    this.#rmp = rmp;
    this.#cipher = cipher;
  }

  read(gpa: Gpa, len: number): Uint8Array {
    const start = this.#range(gpa, len);
    const out = new Uint8Array(len);
    let g = start;
    let done = 0;
    while (done < len) {
      const off = g % PAGE;
      const n = Math.min(len - done, PAGE - off);
      const pfn = (g - off) / PAGE;
      if (this.#rmp !== undefined && this.#cipher !== undefined && this.#rmp.isAssigned(pfn)) {
        const ct = this.#cipher.encryptPage(pfn * PAGE, this.#mem.page(pfn) ?? ZERO_PAGE);
        out.set(ct.subarray(off, off + n), done);
      } else {
        this.#mem.readInto(pfn, off, n, out, done);
      }
      done += n;
      g += n;
    }
    return out;
  }

  /** Checks every page first: a faulting write changes nothing. */
  write(gpa: Gpa, data: Uint8Array): void {
    const start = this.#range(gpa, data.length);
    const rmp = this.#rmp;
    if (rmp !== undefined) {
      for (let g = start - (start % PAGE); g < start + data.length; g += PAGE) {
        const pfn = g / PAGE;
        if (rmp.isAssigned(pfn) || rmp.isImmutable(pfn)) {
          throw new HostPageFault(BigInt(Math.max(g, start)) as Gpa, HOST_WRITE_RMP_FAULT, rmp.isImmutable(pfn) ? "page is immutable" : "page is assigned to the guest");
        }
      }
    }
    let g = start;
    let done = 0;
    while (done < data.length) {
      const off = g % PAGE;
      const n = Math.min(data.length - done, PAGE - off);
      this.#mem.writeFrom((g - off) / PAGE, off, data, done, n);
      done += n;
      g += n;
    }
  }

  #range(gpa: bigint, len: number): number {
    if (!Number.isInteger(len) || len < 0) throw new PlatformError("BAD_ARGUMENT", `bad length ${len}`);
    if (gpa < 0n || gpa + BigInt(len) > this.#mem.bytes) {
      throw new PlatformError("BAD_GPA", `host access [0x${gpa.toString(16)}, +${len}) is outside guest memory`, { gpa, len });
    }
    return Number(gpa);
  }
}
