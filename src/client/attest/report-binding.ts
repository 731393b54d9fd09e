/**
 * The report against its signing certificate (SNP.md §2.3 steps 4–6): signer info
 * (SIGNING_KEY, MASK_CHIP_KEY), the VCEK/VLEK SPL extensions against REPORTED_TCB, the
 * VCEK hwID against CHIP_ID, and the ECDSA signature.
 *
 * hwID is compared unless the key is a VLEK (VLEKs carry no hwID: they are not bound to
 * one chip) or CHIP_ID is entirely zero — the report has no MASK_CHIP_ID bit; all-zero
 * CHIP_ID is exactly what the firmware reports when SNP_CONFIG.MASK_CHIP_ID = 1. The
 * signature still binds the report to the VCEK's (chip-unique) key in that case.
 * On Turin the 8-byte hwID is compared with CHIP_ID[0..8].
 */
import { isAllZero, toHex, bytesEqual } from "../../shared/base/index.js";
import {
  decodeSignerInfo,
  decodeTcbVersion,
  SIGNING_KEY,
  tcbReservedMask,
  type AttestationReport,
  type TcbComponent,
} from "../../shared/spec/index.js";
import type { KeyObject } from "node:crypto";
import type { AmdExtensions } from "./amd-extensions.js";
import type { KeyKind } from "./chain.js";
import type { CheckList } from "./checks.js";
import { AttestError } from "./errors.js";
import type { SnpProduct } from "./product.js";
import { verifyReportSignature } from "./report-signature.js";

export function checkSignerInfo(list: CheckList, report: AttestationReport, keyKind: KeyKind): void {
  const si = decodeSignerInfo(report.signerInfo);
  const want = keyKind === "vcek" ? SIGNING_KEY.VCEK : SIGNING_KEY.VLEK;
  list.record(
    "report.signing-key",
    `signer info SIGNING_KEY is ${keyKind.toUpperCase()} (${want})`,
    si.signingKey === want
      ? undefined
      : new AttestError("SIGNING_KEY_MISMATCH", `SIGNING_KEY is ${si.signingKey} (${si.signingKeyName}) but a ${keyKind.toUpperCase()} was given`, {
          expected: want,
          actual: si.signingKey,
        }),
  );
  list.record(
    "report.mask-chip-key",
    "signer info MASK_CHIP_KEY is 0 (the report is signed)",
    si.maskChipKey ? new AttestError("MASK_CHIP_KEY_SET", "MASK_CHIP_KEY = 1: the firmware did not sign this report", {}) : undefined,
  );
}

const SPL_OF: ReadonlyArray<readonly [TcbComponent, keyof AmdExtensions, string]> = [
  ["bootloader", "blSpl", "blSPL"],
  ["tee", "teeSpl", "teeSPL"],
  ["snp", "snpSpl", "snpSPL"],
  ["microcode", "ucodeSpl", "ucodeSPL"],
];

export function checkTcbExtensions(list: CheckList, report: AttestationReport, ext: AmdExtensions, product: SnpProduct, role: string): void {
  const tcb = decodeTcbVersion(report.reportedTcb, product);
  const rows: Array<[TcbComponent, number | undefined, string]> = SPL_OF.map(([c, k, n]) => [c, ext[k] as number, n]);
  if (product === "turin") rows.unshift(["fmc", ext.fmcSpl, "fmcSPL"]);
  for (const [component, certValue, extName] of rows) {
    const reported = tcb[component] ?? 0;
    list.record(
      `report.tcb.${component}`,
      `${role} ${extName} = REPORTED_TCB ${component}`,
      certValue === reported
        ? undefined
        : new AttestError(
            "TCB_EXTENSION_MISMATCH",
            certValue === undefined
              ? `${role} has no ${extName} extension (REPORTED_TCB ${component} = ${reported})`
              : `${role} ${extName} = ${certValue} but REPORTED_TCB ${component} = ${reported}`,
            { component, extension: extName, certificate: certValue, reported },
          ),
    );
  }
  // Reserved parts: the cert's spl4..spl7 (and fmcSPL outside Turin) are 0, and so are
  // the reserved bytes of REPORTED_TCB for this product's layout.
  const extra: string[] = Object.entries(ext.reservedSpls)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k}=${v}`);
  if (product !== "turin" && ext.fmcSpl !== undefined && ext.fmcSpl !== 0) extra.push(`fmcSPL=${ext.fmcSpl}`);
  const rsvd = report.reportedTcb & tcbReservedMask(product);
  if (rsvd !== 0n) extra.push(`REPORTED_TCB reserved bits 0x${rsvd.toString(16)}`);
  list.record(
    "report.tcb.reserved",
    "reserved TCB parts are zero in the certificate and the report",
    extra.length === 0
      ? undefined
      : new AttestError("TCB_EXTENSION_MISMATCH", `reserved TCB parts are not zero: ${extra.join(", ")}`, { component: "reserved", values: extra }),
  );
}

export function checkHwId(list: CheckList, report: AttestationReport, ext: AmdExtensions, product: SnpProduct, keyKind: KeyKind): void {
  const title = "VCEK hwID = CHIP_ID";
  if (keyKind === "vlek") {
    list.skip("report.hwid", title, "VLEK: not bound to one chip");
    return;
  }
  if (isAllZero(report.chipId)) {
    list.skip("report.hwid", title, "CHIP_ID is all zero (MASK_CHIP_ID)");
    return;
  }
  const want = product === "turin" ? report.chipId.subarray(0, 8) : report.chipId;
  let err: AttestError | undefined;
  if (ext.hwId === undefined) err = new AttestError("HWID_MISMATCH", "the VCEK has no hwID extension", { chipId: toHex(report.chipId) });
  else if (!bytesEqual(ext.hwId, want)) {
    err = new AttestError("HWID_MISMATCH", `VCEK hwID ${toHex(ext.hwId)} ≠ CHIP_ID ${toHex(want)}`, {
      hwId: toHex(ext.hwId),
      chipId: toHex(want),
      product,
    });
  }
  list.record("report.hwid", title, err);
}

export function checkSignature(list: CheckList, raw: Uint8Array, key: KeyObject | undefined, role: string): void {
  const title = `report signature (ECDSA P-384/SHA-384 over 0x000–0x29F) verifies with the ${role}`;
  if (!key) {
    list.skip("report.signature", title, `no usable ${role} key`);
    return;
  }
  list.record(
    "report.signature",
    title,
    verifyReportSignature(raw, key) ? undefined : new AttestError("SIGNATURE_INVALID", `the report signature does not verify with the ${role} key`, { role }),
  );
}
