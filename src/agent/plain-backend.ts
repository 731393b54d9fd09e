/**
 * The non-confidential baseline's backend: the same VMI service run by the host over
 * `HypervisorPort.plainAccess()` on a machine without SEV (the KVMi/LibVMI comparison
 * point). It reads and writes guest memory and the running contexts' VMSA pages in
 * plaintext. Traps and forwarded faults are not supported; run control only if the
 * composition root hands one in (e.g. the host scheduler's own pause).
 */
import type { Gpa } from "../shared/base/index.js";
import { isSevenError } from "../shared/base/index.js";
import { VMSA_SIZE } from "../shared/spec/index.js";
import type { SevenLayout } from "../shared/spec/index.js";
import type { PlainAccess } from "../platform/index.js";
import type { MachineBackend, MachineFacts, RunControl } from "./backend.js";
import { factsFromLayout } from "./backend.js";
import { BackendAccessError } from "./errors.js";

export interface PlainBackendOptions {
  readonly layout: SevenLayout;
  readonly cBit?: number;
  /** Time source in ns (default: the process clock). */
  readonly now?: () => bigint;
  /** Optional run control offered by the host (pause/resume by not scheduling). */
  readonly control?: RunControl;
}

export function createPlainBackend(access: PlainAccess, opts: PlainBackendOptions): MachineBackend {
  const facts: MachineFacts = factsFromLayout(opts.layout, opts.cBit ?? 51);
  const guard = <T>(gpa: bigint, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (isSevenError(e)) throw new BackendAccessError(gpa, `plain access failed (${e.code})`);
      throw e;
    }
  };
  const vmsaOf = (vcpu: number): Gpa => guard(BigInt(vcpu), () => access.vmsaOf(vcpu));
  const backend: MachineBackend = {
    facts,
    faults: false,
    readPhys: (gpa, len) => guard(gpa, () => access.readPhys(gpa as Gpa, len)),
    readPhysInto: (gpa, dst, offset, len) => {
      if (offset < 0 || len < 0 || offset + len > dst.length) throw new RangeError("destination range");
      dst.set(guard(gpa, () => access.readPhys(gpa as Gpa, len)), offset);
    },
    writePhys: (gpa, data) => guard(gpa, () => access.writePhys(gpa as Gpa, data)),
    readVmsa: (vcpu, offset = 0, len = VMSA_SIZE - offset) => {
      const at = vmsaOf(vcpu);
      if (offset < 0 || len < 0 || offset + len > VMSA_SIZE) throw new BackendAccessError(at, "VMSA read outside the save area");
      return guard(at, () => access.readPhys((at + BigInt(offset)) as Gpa, len));
    },
    writeVmsa: (vcpu, offset, data) => {
      const at = vmsaOf(vcpu);
      if (offset < 0 || offset + data.length > VMSA_SIZE) throw new BackendAccessError(at, "VMSA write outside the save area");
      guard(at, () => access.writePhys((at + BigInt(offset)) as Gpa, data));
    },
    now: opts.now ?? (() => process.hrtime.bigint()),
    ...(opts.control !== undefined ? { control: opts.control } : {}),
  };
  return backend;
}
