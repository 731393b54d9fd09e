/**
 * The host's RMPUPDATE and what it does to the page's bytes. RMPUPDATE changes only the
 * RMP (SNP.md §4.2), but the owner decides which key the DRAM is read with: a guest-
 * assigned page is read through the guest's key (C=1), a hypervisor-owned one without it.
 * So a page the host takes back from the guest (private → shared) still holds the guest's
 * ciphertext — the host, and a later C=0 access by the guest, read exactly the AES-XTS
 * bytes the host view showed before the conversion, never the plaintext — and a page the
 * host hands to the guest (shared → private) reads through C=1 as the XTS decryption of
 * what the host left in it. Only SNP_LAUNCH_UPDATE encrypts a page in place (the ASP's
 * launch assignment keeps the plaintext; asp-hardware.ts), which is why launch is the one
 * way to give the guest known contents.
 *
 * Pages whose owner does not change (private → private, shared → shared) keep their
 * bytes. A 2 MiB RMPUPDATE changes each of its 512 pages on its own (each is one XTS data
 * unit tweaked by its own GPA).
 */
import type { GuestMemory } from "./memory.js";
import type { RmpTable } from "./rmp-table.js";
import { PAGES_PER_2M } from "./rmp-table.js";

/** RMPUPDATE of frame `pfn` (size 0 = 4 KiB, 1 = 2 MiB) by the host; all or nothing. */
export function hostRmpUpdate(mem: GuestMemory, rmp: RmpTable, pfn: number, assigned: boolean, size: 0 | 1): void {
  const end = Math.min(pfn + (size === 1 ? PAGES_PER_2M : 1), rmp.pages);
  const changed: number[] = [];
  for (let p = pfn; p < end; p++) if (rmp.isAssigned(p) !== assigned) changed.push(p);
  rmp.update(pfn, assigned, size); // throws before changing any entry
  for (const p of changed) mem.changeKey(p, assigned ? -1 : 1);
}
