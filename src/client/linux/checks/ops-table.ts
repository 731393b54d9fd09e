/**
 * Operation tables (file_operations, proc_ops, seq_operations, tty_ldisc_ops, …): the
 * profile says which members are function pointers, so one helper checks any of them:
 * every non-NULL function pointer must point into kernel or module text. Each distinct
 * table is read once, all in one batch.
 */
import { VmiError } from "../../vmi/index.js";
import type { LinuxKernel } from "../kernel.js";
import { readViews } from "../struct-view.js";
import type { CodeMap } from "./code-map.js";
import { type Finding, hex } from "./check.js";

export interface FnMember {
  readonly name: string;
  readonly offset: number;
}

const cache = new WeakMap<object, Map<string, readonly FnMember[]>>();

/** Members of `struct` whose type is a pointer to a function. */
export function functionPointerMembers(k: LinuxKernel, struct: string): readonly FnMember[] {
  let m = cache.get(k.profile);
  if (!m) {
    m = new Map();
    cache.set(k.profile, m);
  }
  let list = m.get(struct);
  if (!list) {
    const t = k.profile.userType(struct);
    list = Object.entries(t.fields)
      .filter(([, f]) => f.type.kind === "pointer" && f.type.subtype.kind === "function")
      .map(([name, f]) => ({ name, offset: f.offset }))
      .sort((a, b) => a.offset - b.offset);
    m.set(struct, list);
  }
  return list;
}

export interface OpsTable {
  /** Address of the table. */
  readonly address: bigint;
  readonly struct: string;
  /** How findings name it ("/proc/net/tcp seq_ops", "tty_ldiscs[0]"). */
  readonly object: string;
}

export interface OpsOptions {
  readonly check: string;
  /** Only kernel text is acceptable, whoever owns the table. */
  readonly kernelOnly?: boolean;
}

/**
 * Findings for function pointers that point where their table's owner may not point (see
 * CodeMap.judge): a table in the kernel image must point into kernel text, a module's table
 * into kernel text or vouched-for module code (its own always), a table elsewhere into
 * kernel text or vouched-for module code. Unreadable tables are reported.
 */
export async function checkOpsTables(k: LinuxKernel, code: CodeMap, tables: readonly OpsTable[], o: OpsOptions): Promise<Finding[]> {
  const uniq = new Map<string, OpsTable>();
  for (const t of tables) if (!uniq.has(`${t.struct}@${t.address}`)) uniq.set(`${t.struct}@${t.address}`, t);
  const list = [...uniq.values()];
  const out: Finding[] = [];
  const byStruct = new Map<string, OpsTable[]>();
  for (const t of list) byStruct.set(t.struct, [...(byStruct.get(t.struct) ?? []), t]);
  for (const [struct, ts] of byStruct) {
    const size = k.profile.sizeOf(struct);
    const fns = functionPointerMembers(k, struct);
    const views = await readViews(k.vmi, ts.map((t) => t.address), { from: 0, len: size });
    ts.forEach((t, i) => {
      const v = views[i]!;
      if (v instanceof VmiError) {
        out.push({ severity: "medium", check: o.check, object: t.object, detail: `${struct} at ${hex(t.address)} is unreadable (${v.code})`, address: t.address });
        return;
      }
      const { policy, owner } = o.kernelOnly ? { policy: "kernel-only" as const, owner: undefined } : code.policyFor(t.address);
      for (const f of fns) {
        const p = v.ptr(f.offset);
        if (p === 0n) continue;
        const bad = code.judge(p, policy, owner);
        if (bad !== undefined) {
          out.push({ severity: bad.severity, check: o.check, object: `${t.object}.${f.name}`, detail: `${struct}.${f.name} ${bad.detail}`, address: p });
        }
      }
    });
  }
  return out;
}
