/**
 * The kernel's dynamic function-pointer registrations the RDMI checks look at, set up as
 * the real kernel's init code leaves them: init_net.nf.hooks_<family>[] → nf_hook_entries
 * (AppArmor's POST_ROUTING hooks for IPv4 and IPv6, as in the fixture), the keyboard
 * notifier chain (empty: the fixture kernel registers no keyboard notifier), and procfs
 * (proc_root's entries and init_net's /proc/net tree, kernel/procfs.ts).
 */
import type { Kernel } from "../model/kernel.js";
import { REAL_NF_HOOKS } from "../data/real-kernel-data.generated.js";
import type { RealNfHooks } from "../data/real-kernel-data-types.js";
import { StructBuf, u64Bytes } from "../mem/kmem.js";
import { buildProcFs, type ProcFs } from "./procfs.js";
import { refVa } from "./static-data.js";

export type NfFamily = RealNfHooks["family"];

export interface NfHookSet {
  readonly family: NfFamily;
  /** NF_INET_* hook number. */
  readonly hook: number;
  readonly entriesVa: bigint;
  /** Hook functions in priority order (VAs). */
  readonly fns: bigint[];
}

export interface HookPoints {
  readonly nf: NfHookSet[];
  readonly proc: ProcFs;
  /** keyboard_notifier_list.head as the model last wrote it (0: no notifier). */
  keyboardHead: bigint;
}

/** NF_INET_LOCAL_OUT and NF_INET_POST_ROUTING. */
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;

export function nfHooksSlot(k: Kernel, hook: number, family: NfFamily = "hooks_ipv4"): bigint {
  return k.addr.ksym("init_net") + BigInt(k.t.o("net", `nf.${family}`) + hook * 8);
}

export function writeNfEntries(k: Kernel, set: NfHookSet): void {
  const t = k.t;
  const stride = t.size("nf_hook_entry");
  const hooks = t.o("nf_hook_entries", "hooks");
  const b = new StructBuf(hooks + set.fns.length * stride + set.fns.length * 8);
  b.u16(t.o("nf_hook_entries", "num_hook_entries"), set.fns.length);
  set.fns.forEach((fn, i) => b.u64(hooks + i * stride + t.o("nf_hook_entry", "hook"), fn));
  k.mem.write(set.entriesVa, b.bytes);
}

function buildNetfilter(k: Kernel): NfHookSet[] {
  const out: NfHookSet[] = [];
  for (const r of REAL_NF_HOOKS) {
    const set: NfHookSet = { family: r.family, hook: r.hook, entriesVa: k.alloc("kmalloc-64"), fns: r.fns.map((f) => refVa(k, f)) };
    writeNfEntries(k, set);
    k.mem.write(nfHooksSlot(k, r.hook, r.family), u64Bytes(set.entriesVa));
    out.push(set);
  }
  return out;
}

export function buildHookPoints(k: Kernel): HookPoints {
  const nf = buildNetfilter(k);
  // keyboard_notifier_list (an ATOMIC_NOTIFIER_HEAD) stays empty: nothing registers on this kernel.
  return { nf, proc: buildProcFs(k), keyboardHead: 0n };
}
