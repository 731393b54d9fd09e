/** mm_struct → DTB (__pa(mm->pgd)) and pid → DTB for the Vmi's pid access context. */
import { VmiError } from "../../vmi/index.js";
import { walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";

export const MM = requirements("mm", { members: { mm_struct: ["pgd"] } });

/** The page-table root of an address space: __pa(mm->pgd). */
export async function mmDtb(k: LinuxKernel, mm: bigint): Promise<bigint> {
  const b = k.bound(MM);
  let pgd: bigint;
  try {
    pgd = await k.vmi.pointer({ kind: "kva", addr: mm + BigInt(b.o.mm_struct.pgd) });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("mm", e, "mm_struct.pgd");
    throw e;
  }
  const pa = k.pa(pgd);
  if (pa === undefined) {
    // Not in the direct map or the image: let the page tables say where it is.
    try {
      return await k.vmi.translate({ kind: "kva", addr: pgd });
    } catch (e) {
      if (e instanceof VmiError) throw walkReadError("mm", e, "pgd");
      throw e;
    }
  }
  return pa;
}
