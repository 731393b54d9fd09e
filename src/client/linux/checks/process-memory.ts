/**
 * RDMI policies 7 and 11: what processes map and hold open.
 * process-vmas: anonymous executable mappings (injected code; the vDSO and other special
 *   mappings excepted), writable+executable mappings, and a code mapping whose file is
 *   not the process's executable (hollowing: the file behind start_code was swapped).
 * open-files: every open file's f_op must be static kernel or module data, and each of
 *   its functions kernel or module text.
 */
import { VmiError } from "../../vmi/index.js";
import { VM_EXEC, VM_WRITE } from "../constants.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readViews, windowOfStruct } from "../struct-view.js";
import { walkReadError } from "../errors.js";
import { FILES, listOpenFiles, type OpenFile } from "../walkers/files.js";
import { VMAS, listVmas, type Vma } from "../walkers/maple-tree.js";
import { TASKS, listTasks, type Task } from "../walkers/tasks.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";
import { CODE } from "./code-map.js";
import { type OpsTable, checkOpsTables } from "./ops-table.js";

const PROCESS_VMAS = requirements("process-vmas", {
  members: { mm_struct: ["start_code", "exe_file", "context.vdso"], file: ["f_inode"] },
  uses: [TASKS, VMAS],
});

const who = (t: Task): string => `pid ${t.pid} (${t.comm})`;
const range = (v: Vma): string => `${hex(v.start)}-${hex(v.end)}`;

/** One task per address space (threads share their leader's mm). */
async function userSpaces(k: LinuxKernel): Promise<Task[]> {
  const seen = new Set<bigint>();
  return (await listTasks(k, { threads: true })).filter((t) => {
    if (t.kernelThread || t.mm === 0n || seen.has(t.mm)) return false;
    seen.add(t.mm);
    return true;
  });
}

async function fileInodes(k: LinuxKernel, files: readonly bigint[]): Promise<(bigint | null)[]> {
  const off = k.bound(PROCESS_VMAS).o.file.f_inode;
  const vs = await readViews(k.vmi, files, { from: off, len: 8 });
  return vs.map((v) => (v instanceof VmiError ? null : v.ptr(off)));
}

export const processVmas: IntegrityCheck = {
  name: "process-vmas",
  version: "1.0.0",
  policy: 7,
  description: "Process mappings: anonymous executable, writable+executable, code not backed by the executable",
  requirements: [PROCESS_VMAS],
  async run(ctx) {
    const k = ctx.kernel;
    const b = k.bound(PROCESS_VMAS);
    const f = finder(this.name);
    const special = new Set(["special_mapping_vmops", "legacy_special_mapping_vmops"].map((s) => k.symbolOrUndefined(s)).filter((x) => x !== undefined));
    const spaces = await userSpaces(k);
    const mmViews = await readViews(k.vmi, spaces.map((t) => t.mm), windowOfStruct(b.m.mm_struct));
    const findings: Finding[] = [];
    let count = 0;
    // Every address space's VMAs are walked at once (awaited in order below).
    const vmaLists = spaces.map((t) => {
      const p = listVmas(k, t.mm);
      p.catch(() => undefined);
      return p;
    });
    for (let i = 0; i < spaces.length; i++) {
      const t = spaces[i]!;
      const mv = mmViews[i]!;
      if (mv instanceof VmiError) throw walkReadError("process-vmas", mv, "mm_struct");
      const vdso = mv.ptr(b.o.mm_struct["context.vdso"]);
      const startCode = mv.u64(b.o.mm_struct.start_code);
      const exe = mv.ptr(b.o.mm_struct.exe_file);
      const vmas = await vmaLists[i]!;
      count += vmas.length;
      for (const v of vmas) {
        const exec = (v.flags & VM_EXEC) !== 0n;
        const isSpecial = v.start === vdso || special.has(v.ops);
        if (exec && v.file === 0n && !isSpecial) findings.push(f("medium", `${who(t)} ${range(v)}`, "anonymous executable mapping", v.start));
        if (exec && (v.flags & VM_WRITE) !== 0n) findings.push(f("medium", `${who(t)} ${range(v)}`, "writable and executable mapping", v.start));
      }
      const codeVma = vmas.find((v) => startCode >= v.start && startCode < v.end);
      if (exe !== 0n && codeVma !== undefined) {
        if (codeVma.file === 0n) findings.push(f("high", `${who(t)} ${range(codeVma)}`, "the code mapping (start_code) is anonymous", codeVma.start));
        else if (codeVma.file !== exe) {
          const [a, c] = await fileInodes(k, [codeVma.file, exe]);
          if (a !== c) findings.push(f("high", `${who(t)} ${range(codeVma)}`, `the code mapping's file (inode ${hex(a ?? 0n)}) is not the executable (inode ${hex(c ?? 0n)})`, codeVma.start));
        }
      }
    }
    return { findings, note: `${spaces.length} address spaces, ${count} mappings` };
  },
};

const OPEN_FILES = requirements("open-files", { sizes: ["file_operations"], uses: [TASKS, FILES, CODE] });

export const openFiles: IntegrityCheck = {
  name: "open-files",
  version: "1.0.0",
  policy: 11,
  description: "Open files' f_op tables are static kernel/module data and point into kernel or module text",
  requirements: [OPEN_FILES],
  async run(ctx) {
    const k = ctx.kernel;
    const code = await ctx.code();
    const f = finder(this.name);
    const findings: Finding[] = [];
    const seenFiles = new Set<bigint>();
    const tables = new Map<bigint, OpsTable>();
    let n = 0;
    const tasks = await listTasks(k, { threads: true });
    // Every file table is listed at once (awaited in order below).
    const lists = new Map<bigint, Promise<OpenFile[]>>();
    for (const t of tasks) {
      if (t.files === 0n || lists.has(t.files)) continue;
      const p = listOpenFiles(k, t.files);
      p.catch(() => undefined);
      lists.set(t.files, p);
    }
    for (const t of tasks) {
      if (t.files === 0n || seenFiles.has(t.files)) continue;
      seenFiles.add(t.files);
      for (const o of await lists.get(t.files)!) {
        n++;
        if (o.fop === 0n || tables.has(o.fop)) continue;
        const object = `${who(t)} fd ${o.fd} (${o.path || "?"}) f_op`;
        if (!code.isStatic(o.fop)) findings.push(f("medium", object, `file_operations at ${hex(o.fop)} is outside kernel and module data`, o.fop));
        tables.set(o.fop, { address: o.fop, struct: "file_operations", object });
      }
    }
    findings.push(...(await checkOpsTables(k, code, [...tables.values()], { check: this.name })));
    return { findings, note: `${n} open files in ${seenFiles.size} file tables, ${tables.size} f_op tables` };
  },
};

