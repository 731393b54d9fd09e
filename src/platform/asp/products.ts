/**
 * Per-product constants of the simulated AMD secure processor: what a Milan, Genoa or
 * Turin part reports (CPUID family/model/stepping, TCB, firmware version, PLATFORM_INFO)
 * and how AMD's KDS names its keys for that product (SNP.md §1, §1.4, §2.1, §2.2).
 *
 * Default TCBs and firmware versions are plausible values, not copied from one real chip:
 * Milan bl=3 tee=0 snp=20 ucode=209 (ABI 1.55), Genoa bl=10 tee=0 snp=23 ucode=84, Turin
 * fmc=1 bl=1 tee=1 snp=4 ucode=72 (Turin layout, SNP.md §1.4 — unverified there).
 */
import { encodeTcbVersion, encodePlatformInfo } from "../../shared/spec/index.js";
import type { Product } from "./hardware.js";

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface ProductInfo {
  readonly product: Product;
  /** "Milan", "Genoa", "Turin": KDS URL segment, CN suffixes, productName extension. */
  readonly name: string;
  /** Report v3+ CPUID_FAM_ID / CPUID_MOD_ID / CPUID_STEP (extended + base, SNP.md §1). */
  readonly cpuid: { readonly family: number; readonly model: number; readonly stepping: number };
  /** CPUID Fn0000_0001_EAX signature (the secrets page's FMS field). */
  readonly cpuidSignature: number;
  readonly defaultTcb: bigint;
  readonly defaultFirmware: FirmwareVersion;
  /** Serial numbers of the ARK and ASK (AMD's: Milan 0x10000/0x10001, Genoa 0x20000/0x20002, Turin 0x30000/0x30001). */
  readonly arkSerial: number;
  readonly askSerial: number;
  /** VCEK structVersion extension (0 Milan/Genoa, 1 Turin) and hwID length (64, Turin 8). */
  readonly vcekStructVersion: number;
  readonly chipIdBytes: number;
}

const MILAN: ProductInfo = {
  product: "milan",
  name: "Milan",
  cpuid: { family: 0x19, model: 0x01, stepping: 0x01 },
  cpuidSignature: 0x00a0_0f11,
  defaultTcb: encodeTcbVersion({ bootloader: 3, tee: 0, snp: 20, microcode: 209 }, "milan"),
  defaultFirmware: { major: 1, minor: 55, build: 21 },
  arkSerial: 0x10000,
  askSerial: 0x10001,
  vcekStructVersion: 0,
  chipIdBytes: 64,
};

const GENOA: ProductInfo = {
  product: "genoa",
  name: "Genoa",
  cpuid: { family: 0x19, model: 0x11, stepping: 0x01 },
  cpuidSignature: 0x00a1_0f11,
  defaultTcb: encodeTcbVersion({ bootloader: 10, tee: 0, snp: 23, microcode: 84 }, "genoa"),
  defaultFirmware: { major: 1, minor: 55, build: 40 },
  arkSerial: 0x20000,
  askSerial: 0x20002,
  vcekStructVersion: 0,
  chipIdBytes: 64,
};

const TURIN: ProductInfo = {
  product: "turin",
  name: "Turin",
  cpuid: { family: 0x1a, model: 0x02, stepping: 0x00 },
  cpuidSignature: 0x00b0_0f20,
  defaultTcb: encodeTcbVersion({ fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 72 }, "turin"),
  defaultFirmware: { major: 1, minor: 55, build: 54 },
  arkSerial: 0x30000,
  askSerial: 0x30001,
  vcekStructVersion: 1,
  chipIdBytes: 8,
};

const PRODUCTS: Record<Product, ProductInfo> = { milan: MILAN, genoa: GENOA, turin: TURIN };

export function productInfo(p: Product): ProductInfo {
  const info = PRODUCTS[p];
  if (info === undefined) throw new RangeError(`unknown product ${String(p)}`);
  return info;
}

/**
 * PLATFORM_INFO the simulated platform reports: SMT_EN | ECC_EN, plus ALIAS_CHECK_COMPLETE
 * for report v3+ (which defines the bit) — 0x25 as on real Genoa parts, 0x05 for v2.
 */
export function platformInfoFor(reportVersion: number): bigint {
  return encodePlatformInfo({ smtEn: true, eccEn: true, aliasCheckComplete: reportVersion >= 3 });
}
