/** Reads the facts a fixture image's ground-truth.txt states (see ../shared/fixtures/linux/README.md). */
import { readFileSync } from "node:fs";

export interface GroundTruth {
  /** `TASK pid= ppid= state= comm=` lines: thread-group leaders as /proc showed them. */
  readonly tasks: readonly { pid: number; ppid: number; state: string; comm: string }[];
  /** /proc/modules: name, size, base. */
  readonly modules: readonly { name: string; size: number; base: bigint }[];
  /** /proc/iomem "Kernel code" start: the physical address of _text. */
  readonly kernelCode: bigint;
  /** busybox ps: pid → command line. */
  readonly commands: ReadonlyMap<number, string>;
}

export function readGroundTruth(path: string): GroundTruth {
  const text = readFileSync(path, "utf8");
  const tasks = [...text.matchAll(/^TASK pid=(\d+) ppid=(\d+) state=(\S) comm=(.*)$/gm)].map((m) => ({
    pid: Number(m[1]),
    ppid: Number(m[2]),
    state: m[3]!,
    comm: m[4]!,
  }));
  const modsSection = text.split("--- /proc/modules\n")[1]!.split("\n---")[0]!;
  const modules = modsSection
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const f = l.split(/\s+/);
      return { name: f[0]!, size: Number(f[1]), base: BigInt(f[f.length - 1]!) };
    });
  const code = /^\s+([0-9a-f]+)-[0-9a-f]+ : Kernel code$/m.exec(text);
  const commands = new Map<number, string>();
  const psSection = text.split("--- ps (busybox)\n")[1]!.split("\n---")[0]!;
  for (const l of psSection.split("\n").slice(1)) {
    const m = /^\s*(\d+)\s+\S+\s+(.*)$/.exec(l);
    if (m) commands.set(Number(m[1]), m[2]!);
  }
  return { tasks, modules, kernelCode: BigInt("0x" + code![1]!), commands };
}
