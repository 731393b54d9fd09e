/**
 * How the VMI service reaches the machine. The service core (service/) never touches a Cpu
 * or a hypervisor port; it is handed a MachineBackend:
 *  - the VMPL0 backend (vmpl0-backend.ts) over the agent's `Cpu` — the confidential path:
 *    private accesses at VMPL0, VMSA pages read directly, pause and traps by RMPADJUST;
 *  - the plain backend (plain-backend.ts) over `HypervisorPort.plainAccess()` — the
 *    non-confidential baseline the host serves itself (no traps, no attestation).
 */
import type { SevenLayout } from "../shared/spec/index.js";
import { isSharedPage } from "../shared/spec/index.js";

export interface MachineFacts {
  readonly vcpus: number;
  readonly memoryBytes: bigint;
  /** C-bit position in page-table entries. */
  readonly cBit: number;
  /** The owner may inspect [0, guestRamEnd). */
  readonly guestRamEnd: bigint;
  /** The agent's own region (never readable through the service). */
  readonly agentStart: bigint;
  readonly agentEnd: bigint;
  /** Pages of guest RAM that are shared with the host by design (the guest's GHCBs). */
  isSharedPage(gpa: bigint): boolean;
}

export function factsFromLayout(layout: SevenLayout, cBit: number): MachineFacts {
  return {
    vcpus: layout.vcpus,
    memoryBytes: layout.memoryBytes,
    cBit,
    guestRamEnd: layout.guestRamEnd,
    agentStart: layout.agentBase,
    agentEnd: layout.agentEnd,
    isSharedPage: (g) => g < layout.guestRamEnd && isSharedPage(layout, g),
  };
}

/** Run/stop control of the guest's (VMPL1) contexts. */
export interface RunControl {
  /** Makes vCPU `vcpu`'s VMPL1 context runnable or not (the RMP VMSA bit). */
  setRunnable(vcpu: number, runnable: boolean): void;
}

/** Page access control of the guest (VMPL1 rights in the RMP). */
export interface AccessControl {
  /** Sets VMPL1's permission mask (RMP_PERM bits) of the guest page at `page`. */
  setGuestRights(page: bigint, perms: number): void;
}

export interface MachineBackend {
  readonly facts: MachineFacts;
  /**
   * Physical read/write of guest RAM; the caller has range-checked the addresses.
   * Throws BackendAccessError when the platform refuses the access.
   */
  readPhys(gpa: bigint, len: number): Uint8Array;
  /**
   * `readPhys` into `dst[offset, offset + len)` (no buffer of its own). On a refusal the
   * BackendAccessError names the first byte of the refused piece; what came before it
   * may already be in `dst`.
   */
  readPhysInto(gpa: bigint, dst: Uint8Array, offset: number, len: number): void;
  writePhys(gpa: bigint, data: Uint8Array): void;
  /**
   * Bytes [offset, offset+len) (default: the whole VMSA_SIZE save area) of the VMSA of
   * vCPU `vcpu`'s guest (VMPL1) context.
   */
  readVmsa(vcpu: number, offset?: number, len?: number): Uint8Array;
  /** Writes bytes into that VMSA at `offset` (< VMSA_SIZE). */
  writeVmsa(vcpu: number, offset: number, data: Uint8Array): void;
  /** Time in ns (the secure TSC for the agent). */
  now(): bigint;
  /** Present where the backend can stop contexts (pause, held events, single-step). */
  readonly control?: RunControl;
  /** Present where the backend can arm traps. */
  readonly access?: AccessControl;
  /**
   * Whether this backend can observe forwarded faults (the VMSA exit fields written by
   * hardware). The plain backend cannot.
   */
  readonly faults: boolean;
}
