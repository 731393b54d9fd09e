/** The syscall table and IDT as the model last wrote them (rootkit overrides applied). */
import type { Kernel } from "../model/kernel.js";
import { IDT_ENTRIES, realGate, SYSCALL_COUNT, syscallHandler, type Gate } from "../kernel/static-data.js";

export function currentSyscallTable(k: Kernel): bigint[] {
  const out: bigint[] = [];
  for (let nr = 0; nr < SYSCALL_COUNT; nr++) out.push(k.syscallOverrides.get(nr) ?? syscallHandler(k, nr));
  return out;
}

export function currentIdt(k: Kernel): Gate[] {
  const out: Gate[] = [];
  for (let v = 0; v < IDT_ENTRIES; v++) {
    const g = realGate(k, v);
    const h = k.idtOverrides.get(v);
    out.push(h === undefined ? g : { ...g, handler: h });
  }
  return out;
}
