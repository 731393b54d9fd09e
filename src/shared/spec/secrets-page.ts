/**
 * The SNP secrets page — SNP.md §6.4 (Linux `struct snp_secrets_page`, `struct secrets_os_area`).
 * Filled by the firmware at launch (page type SECRETS). The OS area (0xA0–0xFF) belongs to
 * the guest OS and is not checked. SVSMs hand lower VMPLs a copy with VMPCK0..n-1 zeroed
 * (`secretsPageForVmpl`, coconut `SecretsPage::copy_for_vmpl`).
 */
import { PAGE_SIZE } from "../base/index.js";
import { bytes, defineLayout, mbz, u8, u32, u64f } from "./layout.js";
import type { Parsed } from "./layout.js";

export const SECRETS_PAGE_SIZE = PAGE_SIZE;
export const VMPCK_LEN = 32;

export const SECRETS_PAGE = defineLayout({
  name: "SNP_SECRETS_PAGE",
  size: SECRETS_PAGE_SIZE,
  source: "SNP.md §6.4; Linux struct snp_secrets_page",
  fields: [
    u32("version", 0x000),
    u32("imien", 0x004, "bit0 IMIEN, bits 31:1 reserved"),
    u32("fms", 0x008, "family/model/stepping"),
    mbz("reserved_0x00c", 0x00c, 4),
    bytes("gosvw", 0x010, 16, "guest OS-visible workarounds"),
    bytes("vmpck0", 0x020, VMPCK_LEN),
    bytes("vmpck1", 0x040, VMPCK_LEN),
    bytes("vmpck2", 0x060, VMPCK_LEN),
    bytes("vmpck3", 0x080, VMPCK_LEN),
    // OS area (guest-owned).
    u32("msgSeqno0", 0x0a0),
    u32("msgSeqno1", 0x0a4),
    u32("msgSeqno2", 0x0a8),
    u32("msgSeqno3", 0x0ac),
    u64f("apJumpTablePa", 0x0b0),
    bytes("osReserved", 0x0b8, 40, "OS area reserved; not checked"),
    bytes("guestUsage", 0x0e0, 32),
    // Firmware area again.
    bytes("vmsaTweakBitmap", 0x100, 64),
    u64f("svsmBase", 0x140),
    u64f("svsmSize", 0x148),
    u64f("svsmCaa", 0x150),
    u32("svsmMaxVersion", 0x158),
    u8("svsmGuestVmpl", 0x15c),
    mbz("reserved_0x15d", 0x15d, 3),
    u32("tscFactor", 0x160),
    mbz("reserved_0x164", 0x164, SECRETS_PAGE_SIZE - 0x164),
  ],
});
export type SecretsPage = Parsed<typeof SECRETS_PAGE.fields>;

/** Start of the guest OS area. */
export const SECRETS_OS_AREA_OFFSET = 0x0a0;

/** Offset of VMPCKn (n = 0..3): 0x20, 0x40, 0x60, 0x80. */
export function vmpckOffset(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 3) throw new RangeError(`no VMPCK${n}`);
  return 0x20 + VMPCK_LEN * n;
}

/** A copy of the page for code running at `vmpl`: VMPCK0..VMPCK(vmpl-1) zeroed. */
export function secretsPageForVmpl(page: Uint8Array, vmpl: number): Uint8Array {
  if (page.length !== SECRETS_PAGE_SIZE) throw new RangeError(`secrets page is ${SECRETS_PAGE_SIZE} bytes`);
  if (!Number.isInteger(vmpl) || vmpl < 0 || vmpl > 3) throw new RangeError(`VMPL ${vmpl}`);
  const out = page.slice();
  for (let n = 0; n < vmpl; n++) out.fill(0, vmpckOffset(n), vmpckOffset(n) + VMPCK_LEN);
  return out;
}
