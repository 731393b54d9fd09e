/**
 * The rootkit's own kernel module: loaded like any module (so its struct module, list
 * and kset entries exist until it hides them), with hook functions in its text and the
 * pointers the hooks chain to in its data. Writes to read-only kernel data go through
 * the direct-map alias of the page (as text_poke does), since the image maps it RO.
 */
import type { Kernel } from "../model/kernel.js";
import type { KernelModule } from "../model/types.js";
import { loadModule } from "../kernel/modules.js";
import { u64Bytes } from "../mem/kmem.js";
import type { Gen } from "../workload/context.js";
import type { Workload } from "../workload/workload.js";

export interface RkModule {
  readonly mod: KernelModule;
  code: number;
  data: number;
}

const rkModules = new WeakMap<Kernel, Map<string, RkModule>>();

/** The rootkit module `name` (loaded now if needed; its load is recorded as instructions). */
export function* ensureRkModule(w: Workload, name: string, out: { rk?: RkModule }): Gen {
  const k = w.k;
  let m = rkModules.get(k);
  if (m === undefined) {
    m = new Map();
    rkModules.set(k, m);
  }
  const hit = m.get(name);
  if (hit !== undefined) {
    out.rk = hit;
    return;
  }
  let mod: KernelModule | undefined;
  const insns = w.record("load_module", () => {
    mod = loadModule(k, { name, size: 16384, rootkit: true });
  });
  yield* insns;
  const rk: RkModule = { mod: mod!, code: 0, data: 0 };
  m.set(name, rk);
  out.rk = rk;
}

/** A hook function's entry address inside the module's text. */
export function hookEntry(rk: RkModule): bigint {
  const at = rk.mod.base + 0x40n + BigInt(rk.code * 0x80);
  rk.code++;
  return at;
}

/** An 8-byte slot in the module's data (after its struct module). */
export function dataSlot(k: Kernel, rk: RkModule): bigint {
  const at = rk.mod.va + BigInt(Math.ceil(k.t.size("module") / 8) * 8 + rk.data * 8);
  rk.data++;
  return at;
}

/** The VA a rootkit writes to change kernel-image data at `va` (direct-map alias for RO pages). */
export function writableAlias(k: Kernel, va: bigint): bigint {
  if (!k.addr.inImage(va)) return va;
  const ro = va < k.addr.ksym("_sdata");
  return ro ? k.addr.dmap(k.addr.imagePa(va)) : va;
}

export function writePtr(k: Kernel, va: bigint, value: bigint): void {
  k.mem.write(writableAlias(k, va), u64Bytes(value));
}
