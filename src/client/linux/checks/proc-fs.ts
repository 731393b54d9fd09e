/**
 * RDMI policies 3 and 10.
 * proc-fops: every /proc entry's operations (inode_operations, proc_ops or, for
 *   directories, file_operations, and seq_operations) must point into kernel or module
 *   text, and the tables themselves must be static kernel or module data; /proc's root
 *   must still use proc_root_operations.
 * tcp-seq-ops: the seq_operations behind /proc/net/{tcp,tcp6,udp,udp6} must be the
 *   kernel's own (tcp4_seq_ops, …) with every function in kernel text, and any function
 *   pointers tcp4_seq_afinfo carries (older kernels: seq_ops/seq_fops) likewise.
 */
import { requirements } from "../requirements.js";
import { PROCFS, walkProcTree, type ProcEntry } from "../walkers/procfs.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";
import type { CodeMap } from "./code-map.js";
import { CODE } from "./code-map.js";
import { type OpsTable, checkOpsTables } from "./ops-table.js";

const PROC_FOPS = requirements("proc-fops", {
  members: { net: ["proc_net"] },
  symbols: ["init_net", "proc_root_operations"],
  uses: [PROCFS, CODE],
});

function opsTables(entries: readonly ProcEntry[], code: CodeMap, prefix: string, f: ReturnType<typeof finder>, findings: Finding[]): OpsTable[] {
  const tables: OpsTable[] = [];
  const add = (addr: bigint, struct: string, object: string): void => {
    if (addr === 0n) return;
    if (!code.isStatic(addr)) {
      findings.push(f("medium", object, `${struct} table at ${hex(addr)} is outside kernel and module data`, addr));
    }
    tables.push({ address: addr, struct, object });
  };
  for (const e of entries) {
    const p = `${prefix}${e.path}`;
    add(e.iops, "inode_operations", `${p} proc_iops`);
    add(e.ops, e.isDir ? "file_operations" : "proc_ops", `${p} ${e.isDir ? "proc_dir_ops" : "proc_ops"}`);
    // seq_ops shares its slot with single_show (a function): code is fine, else it is a table.
    if (e.seqOps !== 0n && !code.isCode(e.seqOps)) add(e.seqOps, "seq_operations", `${p} seq_ops`);
  }
  return tables;
}

export const procFops: IntegrityCheck = {
  name: "proc-fops",
  version: "1.0.0",
  policy: 3,
  description: "/proc entries' file, inode and seq operations point into kernel or module text",
  requirements: [PROC_FOPS],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(PROC_FOPS);
    const f = finder(this.name);
    const code = await ctx.code();
    const findings: Finding[] = [];
    // /proc and /proc/net are walked at once; a failure of the first is reported first.
    const rootWalk = walkProcTree(k, k.bound(PROCFS).sym.proc_root);
    const netWalk = (async () => {
      const procNet = await k.vmi.pointer({ kind: "kva", addr: b.sym.init_net + BigInt(b.o.net.proc_net) });
      return procNet === 0n ? [] : walkProcTree(k, procNet);
    })();
    netWalk.catch(() => undefined);
    const root = await rootWalk;
    const net = await netWalk;
    const rootEntry = root[0];
    if (rootEntry && rootEntry.ops !== b.sym.proc_root_operations) {
      findings.push(f("high", "/proc", `proc_root uses ${hex(rootEntry.ops)} instead of proc_root_operations`, rootEntry.ops));
    }
    const tables = [...opsTables(root, code, "/proc/", f, findings), ...opsTables(net, code, "/proc/net/", f, findings)];
    findings.push(...(await checkOpsTables(k, code, tables, { check: this.name })));
    return { findings, note: `${root.length + net.length} entries, ${new Set(tables.map((t) => t.address)).size} tables` };
  },
};

/** /proc/net entry name → the kernel's seq_operations for it. */
const NET_SEQ: readonly (readonly [string, string])[] = [
  ["tcp", "tcp4_seq_ops"],
  ["tcp6", "tcp6_seq_ops"],
  ["udp", "udp_seq_ops"],
  ["udp6", "udp6_seq_ops"],
];

const TCP_SEQ = requirements("tcp-seq-ops", {
  members: { net: ["proc_net"] },
  symbols: ["init_net", "tcp4_seq_ops", "tcp4_seq_afinfo"],
  sizes: ["seq_operations", "tcp_seq_afinfo"],
  uses: [PROCFS, CODE],
});

export const tcpSeqOps: IntegrityCheck = {
  name: "tcp-seq-ops",
  version: "1.0.0",
  policy: 10,
  description: "TCP/UDP /proc/net seq operations and tcp4_seq_afinfo are the kernel's own, in kernel text",
  requirements: [TCP_SEQ],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(TCP_SEQ);
    const f = finder(this.name);
    const code = await ctx.code();
    const findings: Finding[] = [];
    const tables: OpsTable[] = [{ address: b.sym.tcp4_seq_afinfo, struct: "tcp_seq_afinfo", object: "tcp4_seq_afinfo" }];
    const procNet = await k.vmi.pointer({ kind: "kva", addr: b.sym.init_net + BigInt(b.o.net.proc_net) });
    const entries = procNet === 0n ? [] : await walkProcTree(k, procNet);
    let seen = 0;
    for (const [entry, sym] of NET_SEQ) {
      const want = k.symbolOrUndefined(sym);
      if (want === undefined) continue;
      tables.push({ address: want, struct: "seq_operations", object: sym });
      const e = entries.find((x) => x.path === entry);
      if (!e) continue;
      seen++;
      if (e.seqOps !== want) {
        findings.push(f("high", `/proc/net/${entry}`, `seq_ops is ${code.describe(e.seqOps)} instead of ${sym}`, e.seqOps));
        if (e.seqOps !== 0n && !code.isCode(e.seqOps)) tables.push({ address: e.seqOps, struct: "seq_operations", object: `/proc/net/${entry} seq_ops` });
      }
    }
    findings.push(...(await checkOpsTables(k, code, tables, { check: this.name, kernelOnly: true })));
    return { findings, note: `${seen} /proc/net entries compared` };
  },
};
