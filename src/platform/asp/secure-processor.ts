/**
 * The AMD secure processor (ASP/PSP firmware) model: one guest context, the launch
 * commands, SNP_GUEST_REQUEST, report signing and the simulated KDS. Built by
 * `createSecureProcessor` (index.ts) from the machine's `AspHardware` seam and an `AspConfig`.
 *
 * Determinism: at construction the ASP draws a 32-byte chip seed from a fork of `cfg.rng`
 * ("asp/chip/<product>"); the ARK, ASK, VCEKs and CHIP_ID derive from it. The guest's VMPCKs and
 * REPORT_ID come from the fork "asp/guest" at LAUNCH_START. The certificates' validity starts
 * at `cfg.clock.now()` read once at construction. Forks do not move `cfg.rng`, so other
 * consumers of the same rng see the same numbers whether or not an ASP exists.
 */
import { SeededRng } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { SNP_PRODUCT_SPECS, isSupportedReportVersion } from "../../shared/spec/index.js";
import type { ReportVersion } from "../../shared/spec/index.js";
import type { AspCertificates, AspPort, LaunchUpdate } from "../api.js";
import { PlatformError } from "../fault.js";
import type { GuestContext } from "./guest-context.js";
import { emptyGuestContext } from "./guest-context.js";
import { guestRequest } from "./guest-request.js";
import type { AspConfig, AspHardware } from "./hardware.js";
import { launchFinish, launchStart, launchUpdate } from "./launch.js";
import type { LaunchEnv } from "./launch.js";
import { platformInfoFor, productInfo } from "./products.js";
import type { FirmwareVersion, ProductInfo } from "./products.js";
import { reportFields, signReport } from "./report.js";
import type { ReportPlatform } from "./report.js";
import { SimulatedKds } from "./simulated-kds.js";
import { decodeAspSnapshot, encodeAspSnapshot } from "./snapshot.js";

export class SecureProcessor implements AspPort {
  readonly #hw: AspHardware;
  readonly #cfg: AspConfig;
  readonly #product: ProductInfo;
  readonly #firmware: FirmwareVersion;
  readonly #tcb: bigint;
  readonly #version: ReportVersion;
  #chipSeed: Uint8Array;
  #issuedAtMs: number;
  #kds: SimulatedKds;
  #chipId: Uint8Array;
  #ctx: GuestContext = emptyGuestContext();

  constructor(hw: AspHardware, cfg: AspConfig) {
    this.#hw = hw;
    this.#cfg = cfg;
    this.#product = productInfo(cfg.product);
    this.#firmware = cfg.firmware ?? this.#product.defaultFirmware;
    for (const [k, v] of Object.entries(this.#firmware)) {
      if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new PlatformError("BAD_ARGUMENT", `firmware ${k} ${String(v)} is not a byte`);
    }
    this.#tcb = cfg.tcb ?? this.#product.defaultTcb;
    if (typeof this.#tcb !== "bigint" || this.#tcb < 0n || this.#tcb >= 1n << 64n) {
      throw new PlatformError("BAD_ARGUMENT", "TCB must be a u64", { tcb: this.#tcb });
    }
    const version = cfg.reportVersion ?? 3;
    if (!isSupportedReportVersion(version)) throw new PlatformError("BAD_ARGUMENT", `report version ${String(version)} is not 2, 3 or 5`);
    this.#version = version;
    this.#chipSeed = cfg.rng.fork(`asp/chip/${cfg.product}`).bytes(32);
    this.#issuedAtMs = cfg.clock.now();
    this.#kds = new SimulatedKds(cfg.product, new SeededRng(this.#chipSeed), this.#issuedAtMs);
    this.#chipId = this.#deriveChipId();
  }

  /** 64 bytes from the chip seed; Turin uses 8 (SNP.md §1 CHIP_ID), the rest is zero. */
  #deriveChipId(): Uint8Array {
    const id = new SeededRng(this.#chipSeed).fork("chip-id").bytes(64);
    id.fill(0, SNP_PRODUCT_SPECS[this.#cfg.product].hwIdSize);
    return id;
  }

  #env(): LaunchEnv {
    return {
      hw: this.#hw,
      firmware: this.#firmware,
      currentTcb: this.#tcb,
      cpuidSignature: this.#product.cpuidSignature,
      guestRng: this.#cfg.rng.fork("asp/guest"),
    };
  }

  // ---- launch ----------------------------------------------------------------------

  launchStart(p: { policy: bigint; gosvw?: Uint8Array }): void {
    launchStart(this.#ctx, this.#env(), p);
  }

  launchUpdate(u: LaunchUpdate): Uint8Array {
    return launchUpdate(this.#ctx, this.#env(), u);
  }

  launchFinish(p: { hostData?: Uint8Array; idBlock?: Uint8Array; idAuth?: Uint8Array }): void {
    launchFinish(this.#ctx, p);
  }

  get launchDigest(): Uint8Array {
    return new Uint8Array(this.#ctx.digest);
  }

  // ---- guest requests and reports --------------------------------------------------

  guestRequest(requestGpa: Gpa, responseGpa: Gpa): number {
    return guestRequest(
      { hw: this.#hw, ctx: this.#ctx, vlekInstalled: false, makeReport: (r) => this.#report(r) },
      requestGpa,
      responseGpa,
    );
  }

  #platform(): ReportPlatform {
    return {
      product: this.#product,
      version: this.#version,
      tcb: this.#tcb,
      firmware: this.#firmware,
      platformInfo: platformInfoFor(this.#version),
      reportedChipId: this.#cfg.maskChipId === true ? new Uint8Array(64) : new Uint8Array(this.#chipId),
    };
  }

  #report(req: { reportData: Uint8Array; vmpl: number }): Uint8Array {
    return signReport(reportFields(this.#ctx, this.#platform(), req), this.#kds.vcek(this.#tcb).secret);
  }

  // ---- KDS ---------------------------------------------------------------------------

  certificates(): AspCertificates {
    return {
      vcek: this.#kds.vcekDer(this.#tcb, this.#chipId),
      ask: this.#kds.askDer,
      ark: this.#kds.arkDer,
      arkPem: this.#kds.arkPem,
    };
  }

  get arkPem(): string {
    return this.#kds.arkPem;
  }

  // ---- snapshot ----------------------------------------------------------------------

  snapshot(): unknown {
    return encodeAspSnapshot({ product: this.#cfg.product, chipSeed: this.#chipSeed, issuedAtMs: this.#issuedAtMs, guest: this.#ctx });
  }

  restore(s: unknown): void {
    const d = decodeAspSnapshot(s);
    if (d.product !== this.#cfg.product) {
      throw new PlatformError("SNAPSHOT", `snapshot is of a ${d.product} ASP, this one is ${this.#cfg.product}`, { product: d.product });
    }
    const sameKeys = Buffer.from(d.chipSeed).equals(Buffer.from(this.#chipSeed)) && d.issuedAtMs === this.#issuedAtMs;
    this.#chipSeed = d.chipSeed;
    this.#issuedAtMs = d.issuedAtMs;
    if (!sameKeys) this.#kds = new SimulatedKds(this.#cfg.product, new SeededRng(this.#chipSeed), this.#issuedAtMs);
    this.#chipId = this.#deriveChipId();
    this.#ctx = d.guest;
  }
}
