export type * from "./api.js";
export { VMEXIT_INVALID, VMEXIT_INTR, VMEXIT_HLT, VMEXIT_SHUTDOWN } from "./api.js";
export { CpuFault, HostPageFault, PlatformError } from "./fault.js";
export type { PlatformErrorCode } from "./fault.js";
export { createMachine } from "./machine.js";
export type { Machine, MachineConfig } from "./machine.js";
export type { MachineSnapshot, MachineStats } from "./machine-snapshot.js";
export type { Product, AspConfig } from "./asp/hardware.js";
