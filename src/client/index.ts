// VMI library core (src/client/vmi, src/client/arch): see src/client/vmi/README.md.
export * from "./vmi/index.js";
export * from "./arch/index.js";
// Attestation verification (src/client/attest): parse, verify, validate, launch measurement, `seven report`.
export * from "./attest/index.js";
// Live drivers (src/client/drivers): agent v1 over attested TLS, and the plain-TCP baseline.
export * from "./drivers/index.js";
// Memory acquisition (src/client/acquire): resumable dumps for `seven dump`.
export * from "./acquire/index.js";
// Linux forensics (src/client/linux): profiles, kernel discovery, walkers, plugins, checks.
export * from "./linux/index.js";
// Output rendering (src/client/output): tables for people, JSON for machines.
export * from "./output/index.js";
