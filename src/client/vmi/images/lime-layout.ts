/**
 * LiME range header (LiME src/lime.h `lime_mem_range_header`, format version 1): each
 * physical range is a 32-byte header followed by its bytes. `e_addr` is inclusive.
 */
import { bytes, defineLayout, u32, u64f } from "../../../shared/spec/index.js";

export const LIME_MAGIC = 0x4c694d45;
export const LIME_VERSION = 1;

export const LIME_HEADER = defineLayout({
  name: "lime_mem_range_header",
  size: 32,
  source: "LiME src/lime.h",
  fields: [
    u32("magic", 0, "0x4C694D45 ('EMiL' on disk)"),
    u32("version", 4, "1"),
    u64f("s_addr", 8, "first physical address"),
    u64f("e_addr", 16, "last physical address (inclusive)"),
    bytes("reserved", 24, 8, "written as zero; not checked on read"),
  ],
});
