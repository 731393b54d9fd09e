/**
 * The AMD secure processor (ASP/PSP firmware) model: one guest context, the launch
 * commands, SNP_GUEST_REQUEST and the simulated KDS. Built by `createSecureProcessor`
 * (index.ts) from the machine's `AspHardware` seam and an `AspConfig`.
 */
import type { Gpa } from "../../shared/base/index.js";
import type { AspCertificates, AspPort, LaunchUpdate } from "../api.js";
import { PlatformError } from "../fault.js";
import type { GuestContext } from "./guest-context.js";
import { emptyGuestContext } from "./guest-context.js";
import type { AspConfig, AspHardware } from "./hardware.js";
import { launchFinish, launchStart, launchUpdate } from "./launch.js";
import type { LaunchEnv } from "./launch.js";
import { SEV_RET } from "./firmware-status.js";
import { productInfo } from "./products.js";
import type { FirmwareVersion, ProductInfo } from "./products.js";

export class SecureProcessor implements AspPort {
  readonly #hw: AspHardware;
  readonly #cfg: AspConfig;
  readonly #product: ProductInfo;
  readonly #firmware: FirmwareVersion;
  readonly #tcb: bigint;
  #ctx: GuestContext = emptyGuestContext();

  constructor(hw: AspHardware, cfg: AspConfig) {
    this.#hw = hw;
    this.#cfg = cfg;
    this.#product = productInfo(cfg.product);
    this.#firmware = cfg.firmware ?? this.#product.defaultFirmware;
    this.#tcb = cfg.tcb ?? this.#product.defaultTcb;
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

  guestRequest(_requestGpa: Gpa, _responseGpa: Gpa): number {
    return SEV_RET.UNSUPPORTED;
  }

  certificates(): AspCertificates {
    throw new PlatformError("ASP_ERROR", "the simulated KDS is not available yet", { status: SEV_RET.UNSUPPORTED });
  }

  get arkPem(): string {
    return this.certificates().arkPem;
  }

  snapshot(): unknown {
    return { version: 0 };
  }

  restore(_s: unknown): void {
    throw new PlatformError("SNAPSHOT", "ASP snapshots are not available yet");
  }
}
