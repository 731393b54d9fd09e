/** struct cred: the ids and the effective capabilities of a task. */
import { VmiError } from "../../vmi/index.js";
import type { LinuxKernel } from "../kernel.js";
import { walkReadError, type WalkError } from "../errors.js";
import { requirements } from "../requirements.js";
import { readViews, windowOfStruct } from "../struct-view.js";

export const CREDS = requirements("creds", {
  members: { cred: ["usage", "uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid", "securebits", "cap_permitted", "cap_effective"] },
});

export interface Cred {
  readonly address: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly euid: number;
  readonly egid: number;
  readonly suid: number;
  readonly sgid: number;
  readonly fsuid: number;
  readonly fsgid: number;
  /** kernel_cap_t as 64-bit masks. */
  readonly capEffective: bigint;
  readonly capPermitted: bigint;
  /** SECBIT_* (include/uapi/linux/securebits.h). */
  readonly securebits: number;
  readonly usage: number;
}

/** Reads many creds in one batch. */
export async function readCreds(k: LinuxKernel, addrs: readonly bigint[]): Promise<(Cred | WalkError)[]> {
  const b = k.bound(CREDS);
  const o = b.o.cred;
  const views = await readViews(k.vmi, addrs, windowOfStruct(b.m.cred));
  return views.map((v) => {
    if (v instanceof VmiError) return walkReadError("creds", v, "cred");
    return {
      address: v.addr,
      uid: v.u32(o.uid),
      gid: v.u32(o.gid),
      euid: v.u32(o.euid),
      egid: v.u32(o.egid),
      suid: v.u32(o.suid),
      sgid: v.u32(o.sgid),
      fsuid: v.u32(o.fsuid),
      fsgid: v.u32(o.fsgid),
      capEffective: v.u64(o.cap_effective),
      capPermitted: v.u64(o.cap_permitted),
      securebits: v.u32(o.securebits),
      usage: v.u32(o.usage),
    };
  });
}
