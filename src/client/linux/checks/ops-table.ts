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
import { type Finding, type Severity, hex } from "./check.js";

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
  readonly severity?: Severity;
  /** Only kernel text is acceptable (e.g. the kernel's own tables), not module text. */
  readonly kernelOnly?: boolean;
}

/** Findings for function pointers of the tables that point outside code. Unreadable tables are reported. */
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
      for (const f of fns) {
        const p = v.ptr(f.offset);
        if (p === 0n) continue;
        const w = code.where(p);
        const ok = o.kernelOnly ? w.kind === "kernel" : w.kind !== "none";
        if (!ok) {
          out.push({
            severity: o.severity ?? "high",
            check: o.check,
            object: `${t.object}.${f.name}`,
            detail: `${struct}.${f.name} points to ${code.describe(p)}`,
            address: p,
          });
        }
      }
    });
  }
  return out;
}
