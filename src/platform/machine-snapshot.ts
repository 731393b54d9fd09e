/**
 * The machine's snapshot and statistics types. A snapshot is plain structured data
 * (numbers, strings, typed arrays): it survives `structuredClone` and
 * `v8.serialize`/`v8.deserialize`, which is how it is persisted as a Buffer. It restores
 * only into a machine of the same configuration and seed (same memory-encryption key).
 */
import { PlatformError } from "./fault.js";
import type { MemorySnapshot } from "./memory.js";
import type { RmpSnapshot } from "./rmp-table.js";

export const SNAPSHOT_FORMAT = "seven-machine/1";

export interface MachineIdentity {
  readonly memoryBytes: string;
  readonly vcpus: number;
  readonly cBit: number;
  readonly sev: boolean;
  /** First 16 bytes of SHA-256 of the memory-encryption key (hex): same seed ⇔ same id. */
  readonly keyId: string;
}

export interface MachineSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly config: MachineIdentity;
  readonly memory: MemorySnapshot;
  /** Null on a non-SEV machine. */
  readonly rmp: RmpSnapshot | null;
  /** GHCB MSR per VMSA frame (hex values). */
  readonly ghcbMsrs: readonly (readonly [number, string])[];
  readonly lastVmsa: readonly (number | null)[];
  readonly retired: readonly (readonly number[])[];
  readonly exits: readonly (readonly [number, number])[];
  readonly vmruns: number;
  /** The secure processor's own snapshot (null on a non-SEV machine). */
  readonly asp: unknown;
  readonly aspRng: { readonly counter: number; readonly pos: number };
}

export interface MachineStats {
  /** Retired instructions: [vCPU][VMPL]. */
  readonly retired: readonly (readonly number[])[];
  /** VM exits by exit code (VMEXIT_INVALID is -1). */
  readonly exits: Readonly<Record<number, number>>;
  readonly vmruns: number;
  /** Guest pages holding data (never-written pages are not allocated). */
  readonly allocatedPages: number;
}

export function checkSnapshot(s: MachineSnapshot, want: MachineIdentity): void {
  if (typeof s !== "object" || s === null || s.format !== SNAPSHOT_FORMAT) {
    throw new PlatformError("SNAPSHOT", "not a machine snapshot (format)");
  }
  const c = s.config;
  for (const k of ["memoryBytes", "vcpus", "cBit", "sev", "keyId"] as const) {
    if (c?.[k] !== want[k]) {
      throw new PlatformError("SNAPSHOT", `snapshot is of a different machine (${k})`, { field: k, snapshot: c?.[k], machine: want[k] });
    }
  }
  if (want.sev !== (s.rmp !== null)) throw new PlatformError("SNAPSHOT", "snapshot RMP does not match the machine's mode");
  if (!Array.isArray(s.lastVmsa) || s.lastVmsa.length !== want.vcpus || !Array.isArray(s.retired) || s.retired.length !== want.vcpus) {
    throw new PlatformError("SNAPSHOT", "snapshot vCPU state is malformed");
  }
}
