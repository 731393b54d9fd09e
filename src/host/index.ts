/**
 * The untrusted host (hypervisor/VMM model): launch in QEMU's order, VMPL-aware vCPU
 * scheduling, the VMPL0 NIC and its TCP relay, adversary switches. It imports only
 * shared/base, shared/spec and the platform: it relays bytes it cannot read.
 */
export { HostError } from "./errors.js";
export type { HostErrorCode } from "./errors.js";
export { bootPlain, expectedMeasurement, expectedMeasurementHex, launchCvm, launchPageCount } from "./launch.js";
export type { LaunchInputs, LaunchOptions, LaunchResult } from "./launch.js";
export { createHost } from "./host.js";
export type { Host, HostOptions } from "./host.js";
export type { GuestState, StopReason } from "./scheduler.js";
export type { HostEvent, HostEventSink } from "./observe.js";
export { ADVERSARY_SWITCHES, activeAdversaries, adversaryNames, parseAdversaries, parseAdversary } from "./adversary/config.js";
export type { AdversaryConfig, AdversaryName, Direction, StreamTarget } from "./adversary/config.js";
export type { PrivateReadObservation } from "./adversary/memory.js";
