/**
 * The expected launch measurement (SNP.md §3): the PAGE_INFO chain over the pages the VMM
 * will LAUNCH_UPDATE, in order, then one VMSA page per vCPU — what MEASUREMENT must say
 * in the report of a guest launched that way. The chaining rule itself is the shared
 * spec's `launchDigestExtend`; this adds the owner-side API (`seven measure`).
 */
import { SevenError, toHex } from "../../shared/base/index.js";
import { initialLaunchDigest, launchDigestExtend, type LaunchDigestPage, type PageTypeName } from "../../shared/spec/index.js";

export interface LaunchPage {
  /** Page-aligned guest-physical address (ignored for VMSA pages). */
  readonly gpa: bigint;
  readonly type: PageTypeName;
  /** 4 KiB plaintext for "normal" and "vmsa" pages. */
  readonly contents?: Uint8Array;
  /** VMPL1, VMPL2, VMPL3 permission masks granted at launch (default none). */
  readonly vmplPerms?: readonly [number, number, number];
}

export interface MeasurementResult {
  /** The 48-byte launch digest. */
  readonly measurement: Uint8Array;
  /** The digest after each step (pages, then VMSAs), for debugging a mismatch. */
  readonly steps: readonly Uint8Array[];
}

export class MeasurementInputError extends SevenError<"MEASUREMENT_INPUT_INVALID"> {
  constructor(message: string, details: Record<string, unknown>) {
    super("attest", "MEASUREMENT_INPUT_INVALID", message, details);
  }
}

/**
 * Chains `pages` then `vmsaPages` (each a 4 KiB VMSA page, measured as type VMSA at the
 * fixed VMSA GPA) from 48 zero bytes. Throws MeasurementInputError naming the bad step.
 */
export function computeLaunchMeasurement(pages: readonly LaunchPage[], vmsaPages: readonly Uint8Array[] = []): MeasurementResult {
  const all: LaunchDigestPage[] = [
    ...pages.map((p) => ({
      type: p.type,
      gpa: p.gpa,
      vmplPerms: p.vmplPerms ?? ([0, 0, 0] as const),
      ...(p.contents !== undefined ? { contents: p.contents } : {}),
    })),
    ...vmsaPages.map((contents) => ({ type: "vmsa" as const, gpa: 0n, vmplPerms: [0, 0, 0] as const, contents })),
  ];
  let digest = initialLaunchDigest();
  const steps: Uint8Array[] = [];
  all.forEach((page, index) => {
    for (const perm of page.vmplPerms) {
      if (!Number.isInteger(perm) || perm < 0 || perm > 0xff) {
        throw new MeasurementInputError(`step ${index}: VMPL permission ${perm} is not a byte`, { index, gpa: page.gpa });
      }
    }
    try {
      digest = launchDigestExtend(digest, page);
    } catch (e: unknown) {
      throw new MeasurementInputError(`step ${index} (${String(page.type)} at 0x${page.gpa.toString(16)}): ${(e as Error).message}`, {
        index,
        type: page.type,
        gpa: page.gpa,
      });
    }
    steps.push(digest);
  });
  return { measurement: digest, steps };
}

export const measurementHex = (r: MeasurementResult): string => toHex(r.measurement);
