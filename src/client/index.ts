// VMI library core (src/client/vmi, src/client/arch): see src/client/vmi/README.md.
export * from "./vmi/index.js";
export * from "./arch/index.js";
// Attestation verification (src/client/attest): parse, verify, validate, launch measurement, `seven report`.
export * from "./attest/index.js";
