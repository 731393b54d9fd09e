/**
 * Test support for attestation: evidence builders others can reuse (simulator tests,
 * security tests). Test code only — production code never imports this folder.
 */
export * from "./attestation-builder.js";
export * from "./cert-builder.js";
export * as der from "./der-writer.js";
