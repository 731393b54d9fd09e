/**
 * The guest: a Linux x86-64 kernel model at VMPL1 (the analysis target). Public surface:
 * the program (`createGuest` → a VcpuProgram), its options and statistics, rootkit and
 * attack scenario names, and the ground truth document.
 */
export { createGuest, GuestKernel, DEFAULT_PROCESSES, MIN_PROCESSES, MAX_PROCESSES } from "./program.js";
export type { GuestOptions, GuestStats } from "./program.js";
export { GuestError } from "./errors.js";
export type { GuestErrorCode } from "./errors.js";
export { kernelInfoFromProfile } from "./kernel-info.js";
export type { KernelProfileView } from "./kernel-info.js";
export { parseRootkitSpecs, scenarioNames, SCENARIOS } from "./rootkits/registry.js";
export type { RootkitRequest, ScenarioRecord, Outcome, Scenario } from "./rootkits/registry.js";
export { groundTruthJson, writeGroundTruth, GROUND_TRUTH_FORMAT } from "./ground-truth.js";
export type { GroundTruth, GtProcess } from "./ground-truth.js";
export { placeKernel } from "./layout/placement.js";
export type { KernelPlacement } from "./layout/placement.js";
export { STABLE_PROCESSES } from "./model/population.js";
