/**
 * The AMD secure processor model — the public surface of src/platform/asp for the rest of
 * the platform (the machine constructs it; nobody outside src/platform sees it directly).
 */
import type { AspPort } from "../api.js";
import type { AspConfig, AspHardware } from "./hardware.js";
import { SecureProcessor } from "./secure-processor.js";

export type { AspConfig, AspHardware, Product } from "./hardware.js";
export { SEV_RET, REPORT_STATUS } from "./firmware-status.js";

export type SecureProcessorPort = AspPort & {
  snapshot(): unknown;
  restore(s: unknown): void;
  /** The simulated ARK certificate (PEM): a trust root an owner may choose to trust. */
  readonly arkPem: string;
};

/** Builds the ASP of one machine (one guest context). */
export function createSecureProcessor(hw: AspHardware, cfg: AspConfig): SecureProcessorPort {
  return new SecureProcessor(hw, cfg);
}
