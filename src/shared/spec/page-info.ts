/**
 * PAGE_INFO and the launch-digest chaining rule — SNP.md §3.2 (SNP ABI §8.17.2 Table 67) and
 * §3.3 (page types). Verified in SNP.md §7.4 by reproducing published sev-snp-measure digests.
 *
 *   LD_new = SHA-384(PAGE_INFO), PAGE_INFO = DIGEST_CUR ‖ CONTENTS ‖ LENGTH=0x70 ‖ PAGE_TYPE ‖
 *            IMI ‖ VMPL3_PERMS ‖ VMPL2_PERMS ‖ VMPL1_PERMS ‖ 0 ‖ GPA
 *
 * NORMAL and VMSA pages contribute SHA-384 of their 4 KiB plaintext; ZERO, UNMEASURED,
 * SECRETS and CPUID contribute 48 zero bytes. A VMSA page is measured at the fixed GPA
 * 0x0000_FFFF_FFFF_F000, not where it sits.
 */
import { createHash } from "node:crypto";
import { PAGE_SIZE } from "../base/index.js";
import { bytes, defineLayout, mbz, u8, u16, u64f } from "./layout.js";

export const PAGE_INFO_SIZE = 0x70;
export const LAUNCH_DIGEST_SIZE = 48;

export const PAGE_INFO = defineLayout({
  name: "PAGE_INFO",
  size: PAGE_INFO_SIZE,
  source: "SNP.md §3.2; SNP ABI Table 67",
  fields: [
    bytes("digestCur", 0x00, 48, "launch digest before this page"),
    bytes("contents", 0x30, 48, "SHA-384 of the page, or zero"),
    u16("length", 0x60, "= 0x70"),
    u8("pageType", 0x62, "PAGE_TYPE"),
    u8("imiPage", 0x63, "bit0 IMI_PAGE, bits 7:1 reserved"),
    u8("vmpl3Perms", 0x64),
    u8("vmpl2Perms", 0x65),
    u8("vmpl1Perms", 0x66),
    mbz("reserved_0x67", 0x67, 1),
    u64f("gpa", 0x68, "page-aligned GPA"),
  ],
});

/** SNP_LAUNCH_UPDATE page types (SNP.md §3.3). */
export const PAGE_TYPE = { NORMAL: 1, VMSA: 2, ZERO: 3, UNMEASURED: 4, SECRETS: 5, CPUID: 6 } as const;
export type PageTypeValue = (typeof PAGE_TYPE)[keyof typeof PAGE_TYPE];
/** Lower-case names, as used by the launch plan (seven-launch.ts) and the platform API. */
export type PageTypeName = "normal" | "vmsa" | "zero" | "unmeasured" | "secrets" | "cpuid";

const BY_NAME: Record<PageTypeName, PageTypeValue> = {
  normal: PAGE_TYPE.NORMAL,
  vmsa: PAGE_TYPE.VMSA,
  zero: PAGE_TYPE.ZERO,
  unmeasured: PAGE_TYPE.UNMEASURED,
  secrets: PAGE_TYPE.SECRETS,
  cpuid: PAGE_TYPE.CPUID,
};

export function pageTypeValue(t: PageTypeName | PageTypeValue): PageTypeValue {
  if (typeof t === "number") {
    if (!Object.values(PAGE_TYPE).includes(t)) throw new RangeError(`unknown PAGE_TYPE ${String(t)}`);
    return t;
  }
  const v = BY_NAME[t];
  if (v === undefined) throw new RangeError(`unknown page type ${String(t)}`);
  return v;
}

/** The GPA every VMSA page is measured at: −1 page-aligned with bits above 51 cleared. */
export const VMSA_MEASURED_GPA = 0x0000_ffff_ffff_f000n;

/** The launch digest before the first LAUNCH_UPDATE. */
export function initialLaunchDigest(): Uint8Array {
  return new Uint8Array(LAUNCH_DIGEST_SIZE);
}

export interface LaunchDigestPage {
  readonly type: PageTypeName | PageTypeValue;
  /** The 4 KiB plaintext: required for NORMAL and VMSA, ignored for the other types. */
  readonly contents?: Uint8Array;
  /** Page-aligned GPA (ignored for VMSA, which uses VMSA_MEASURED_GPA). */
  readonly gpa: bigint;
  /** VMPL1, VMPL2, VMPL3 permission masks pre-granted by the hypervisor. */
  readonly vmplPerms: readonly [number, number, number];
  /** IMI_PAGE (migration-agent import); default false. */
  readonly imi?: boolean;
}

function sha384(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha384").update(b).digest());
}

/** The 0x70-byte PAGE_INFO that is hashed for one LAUNCH_UPDATE. */
export function pageInfoBytes(prevDigest: Uint8Array, page: LaunchDigestPage): Uint8Array {
  if (prevDigest.length !== LAUNCH_DIGEST_SIZE) throw new RangeError(`launch digest must be ${LAUNCH_DIGEST_SIZE} bytes`);
  const type = pageTypeValue(page.type);
  const measured = type === PAGE_TYPE.NORMAL || type === PAGE_TYPE.VMSA;
  let contents: Uint8Array = new Uint8Array(LAUNCH_DIGEST_SIZE);
  if (measured) {
    if (page.contents === undefined || page.contents.length !== PAGE_SIZE) {
      throw new RangeError(`a ${type === PAGE_TYPE.VMSA ? "VMSA" : "NORMAL"} page needs ${PAGE_SIZE} bytes of contents`);
    }
    contents = sha384(page.contents);
  }
  if (type !== PAGE_TYPE.VMSA && (page.gpa < 0n || page.gpa % BigInt(PAGE_SIZE) !== 0n || page.gpa >= 1n << 64n)) {
    throw new RangeError(`GPA 0x${page.gpa.toString(16)} is not a page-aligned u64`);
  }
  const [p1, p2, p3] = page.vmplPerms;
  return PAGE_INFO.serialize({
    digestCur: prevDigest,
    contents,
    length: PAGE_INFO_SIZE,
    pageType: type,
    imiPage: page.imi === true ? 1 : 0,
    vmpl3Perms: p3,
    vmpl2Perms: p2,
    vmpl1Perms: p1,
    gpa: type === PAGE_TYPE.VMSA ? VMSA_MEASURED_GPA : page.gpa,
  });
}

/** One step of the chaining rule: the launch digest after measuring `page`. */
export function launchDigestExtend(prevDigest: Uint8Array, page: LaunchDigestPage): Uint8Array {
  return sha384(pageInfoBytes(prevDigest, page));
}

/** Folds `launchDigestExtend` over pages, starting from 48 zero bytes (or `from`). */
export function launchDigest(pages: Iterable<LaunchDigestPage>, from: Uint8Array = initialLaunchDigest()): Uint8Array {
  let d = from;
  for (const p of pages) d = launchDigestExtend(d, p);
  return d;
}
