/**
 * Who runs in the guest at boot: the kernel threads of the fixture kernel (per-CPU ones
 * for every vCPU), init, the long-lived named processes tests rely on (sshd, vmi_alpha,
 * vmi_beta, vmi_gamma_with_a_very_long_name and their `sleep` children, sleep 100001/100002)
 * and, up to the requested process count, filler processes drawn by seed.
 */
import type { SeededRng } from "../../shared/base/index.js";
import type { TaskState } from "./types.js";

export interface FileSpec {
  readonly path: string;
  readonly fops: string;
  readonly flags: number;
  /** Dentry shared with other processes (never freed). */
  readonly shared?: boolean;
}

export interface ProcSpec {
  readonly comm: string;
  readonly argv: readonly string[];
  readonly kind: "kthread" | "user";
  /** Index (in the spec list) of the parent; -1 = init_task (pid 0). */
  readonly parent: number;
  readonly uid: number;
  readonly binary: string;
  readonly files: readonly FileSpec[];
  readonly pinned: boolean;
  readonly state: TaskState;
  /** Preferred CPU (modulo the vCPU count); undefined = any. */
  readonly cpu?: number;
}

const O_WRONLY = 1;
const O_RDWR = 2;
const O_APPEND = 0x400;

/** The names tests may rely on (comm as the kernel stores it: 15 characters). */
export const STABLE_PROCESSES = ["init", "sshd", "vmi_alpha", "vmi_beta", "vmi_gamma_with_", "vmi_user"] as const;

function kthreads(vcpus: number): { comm: string; state: TaskState; cpu?: number }[] {
  const per = (fmt: (c: number) => string, state: TaskState): { comm: string; state: TaskState; cpu: number }[] =>
    Array.from({ length: vcpus }, (_, c) => ({ comm: fmt(c), state, cpu: c }));
  return [
    { comm: "rcu_gp", state: "I" },
    { comm: "rcu_par_gp", state: "I" },
    { comm: "slub_flushwq", state: "I" },
    { comm: "netns", state: "I" },
    { comm: "kworker/0:0H", state: "I", cpu: 0 },
    { comm: `kworker/u${2 * vcpus}:0`, state: "I" },
    { comm: "mm_percpu_wq", state: "I" },
    { comm: "rcu_tasks_kthre", state: "I" },
    { comm: "rcu_tasks_rude_", state: "I" },
    { comm: "rcu_tasks_trace", state: "I" },
    { comm: "ksoftirqd/0", state: "S", cpu: 0 },
    { comm: "rcu_preempt", state: "I" },
    { comm: "migration/0", state: "S", cpu: 0 },
    { comm: "kworker/0:1", state: "I", cpu: 0 },
    ...per((c) => `cpuhp/${c}`, "S"),
    ...per((c) => `migration/${c}`, "S").slice(1),
    ...per((c) => `ksoftirqd/${c}`, "S").slice(1),
    ...per((c) => `kworker/${c}:0H`, "I").slice(1),
    { comm: "kdevtmpfs", state: "S" },
    { comm: "inet_frag_wq", state: "I" },
    { comm: "kauditd", state: "S" },
    { comm: "khungtaskd", state: "S" },
    { comm: "oom_reaper", state: "S" },
    { comm: "writeback", state: "I" },
    { comm: "kcompactd0", state: "S" },
    { comm: "ksmd", state: "S" },
    { comm: "kintegrityd", state: "I" },
    { comm: "kblockd", state: "I" },
    { comm: "blkcg_punt_bio", state: "I" },
    { comm: "tpm_dev_wq", state: "I" },
    { comm: "edac-poller", state: "I" },
    { comm: "devfreq_wq", state: "I" },
    { comm: "quota_events_un", state: "I" },
    { comm: "kswapd0", state: "S" },
    { comm: "kthrotld", state: "I" },
    { comm: "acpi_thermal_pm", state: "I" },
    { comm: "mld", state: "I" },
    { comm: "ipv6_addrconf", state: "I" },
    { comm: "kstrp", state: "I" },
    { comm: "zswap-shrink", state: "I" },
  ];
}

const log = (name: string): FileSpec => ({ path: `/tmp/${name}.log`, fops: "shmem_file_operations", flags: O_WRONLY | O_APPEND });
const devnull: FileSpec = { path: "/dev/null", fops: "null_fops", flags: O_RDWR, shared: true };

/** Filler programs: [comm, binary, argv, uid, extra files]. */
const FILLERS: readonly (readonly [string, string, readonly string[], number, readonly FileSpec[]])[] = [
  ["bash", "bash", ["-bash"], 1000, []],
  ["sleep", "busybox", ["sleep", "600"], 1000, []],
  ["cron", "cron", ["/usr/sbin/cron", "-f"], 0, [devnull]],
  ["nginx", "nginx", ["nginx: worker process"], 33, [devnull, { path: "/var/log/nginx/access.log", fops: "shmem_file_operations", flags: O_WRONLY | O_APPEND, shared: true }]],
  ["python3", "python3", ["python3", "/srv/app.py"], 1000, [devnull]],
  ["postgres", "postgres", ["postgres: checkpointer"], 110, [devnull]],
  ["sh", "busybox", ["sh", "-c", "while true; do sleep 5; done"], 0, []],
  ["top", "busybox", ["top", "-b"], 1000, []],
];

export function population(vcpus: number, processes: number, rng: SeededRng): ProcSpec[] {
  const out: ProcSpec[] = [];
  const user = (p: Omit<ProcSpec, "kind" | "pinned"> & { pinned?: boolean }): number => {
    out.push({ kind: "user", pinned: p.pinned ?? true, ...p });
    return out.length - 1;
  };
  // pid 1 and 2 as rest_init creates them.
  const init = user({ comm: "init", argv: ["/bin/busybox", "sh", "/init"], parent: -1, uid: 0, binary: "busybox", files: [], state: "S" });
  out.push({ comm: "kthreadd", argv: [], kind: "kthread", parent: -1, uid: 0, binary: "", files: [], pinned: true, state: "S" });
  const kthreadd = out.length - 1;
  for (const kt of kthreads(vcpus)) {
    out.push({ comm: kt.comm, argv: [], kind: "kthread", parent: kthreadd, uid: 0, binary: "", files: [], pinned: true, state: kt.state, ...(kt.cpu !== undefined ? { cpu: kt.cpu } : {}) });
  }
  user({ comm: "sshd", argv: ["/usr/sbin/sshd", "-D"], parent: init, uid: 0, binary: "sshd", files: [devnull, { path: "/var/log/auth.log", fops: "shmem_file_operations", flags: O_WRONLY | O_APPEND, shared: true }], state: "S" });
  const named = (name: string, comm: string): void => {
    const p = user({ comm, argv: ["/bin/sh", `/bin/${name}`], parent: init, uid: 0, binary: "busybox", files: [log(name)], state: "S" });
    user({ comm: "sleep", argv: ["sleep", "3600"], parent: p, uid: 0, binary: "busybox", files: [], state: "S" });
  };
  named("vmi_alpha", "vmi_alpha");
  named("vmi_beta", "vmi_beta");
  named("vmi_gamma_with_a_very_long_name", "vmi_gamma_with_");
  user({ comm: "sleep", argv: ["sleep", "100001"], parent: init, uid: 0, binary: "busybox", files: [], state: "S" });
  user({ comm: "sleep", argv: ["sleep", "100002"], parent: init, uid: 0, binary: "busybox", files: [], state: "S" });
  // An unprivileged long-lived process (the default target of escalate-cred).
  user({ comm: "vmi_user", argv: ["/bin/sh", "/bin/vmi_user"], parent: init, uid: 1000, binary: "busybox", files: [log("vmi_user")], state: "S" });
  // Fillers: children of init or of an earlier filler (shells and their jobs).
  const fillerStart = out.length;
  while (out.length < processes) {
    const [comm, binary, argv, uid, files] = rng.pick(FILLERS);
    let parent = out.length > fillerStart && rng.int(3) === 0 ? fillerStart + rng.int(out.length - fillerStart) : init;
    // Credentials are inherited: only a root parent starts processes of another user.
    const p = out[parent]!;
    if (p.kind !== "user" || (p.uid !== 0 && p.uid !== uid)) parent = init;
    user({ comm, argv, parent, uid, binary, files, state: "S", pinned: false });
  }
  return out;
}

export function fillerProgram(rng: SeededRng): (typeof FILLERS)[number] {
  return rng.pick(FILLERS);
}

/** Per-process log file of a filler (unique path so that it can be freed with the process). */
export function uniqueLog(comm: string, pid: number): FileSpec {
  return { path: `/tmp/${comm}.${pid}.log`, fops: "shmem_file_operations", flags: O_WRONLY | O_APPEND };
}
