// Public surface of the Linux layer (see README.md).
export { LinuxError, WalkError, isLinuxError } from "./errors.js";
export type { LinuxErrorCode, WalkErrorCode } from "./errors.js";
export { START_KERNEL_MAP, KERNEL_ALIGN, PF_KTHREAD, isKernelPointer } from "./constants.js";
export {
  bindRequirements, checkRequirements, flattenRequirements, missingRequirements, requirements, slideSymbol,
} from "./requirements.js";
export type { AnyRequirements, Bound, BoundOf, MissingRequirement, Requirements } from "./requirements.js";
export { loadKernelProfile } from "./profile-source.js";
export type { ProfileSource } from "./profile-source.js";
export { discoverKernel } from "./discovery/discover.js";
export type { CrossCheck, DiscoverOptions, KernelLocation, RouteName, RouteResult } from "./discovery/types.js";
export { DEFAULT_LIMITS, LinuxKernel } from "./kernel.js";
export type { WalkLimits } from "./kernel.js";
export { openLinux } from "./session.js";
export type { OpenLinuxOptions } from "./session.js";
export { StructView, readStrings, readViews, windowOf, windowOfStruct } from "./struct-view.js";
export type { Window } from "./struct-view.js";
// Walkers (Volatility-style exported functions).
export { containerOf, prefetchChain, walkList } from "./walkers/list.js";
export type { ListNode, ListWalk, Prefetched } from "./walkers/list.js";
export {
  PER_CPU, PROCESSES, TASKS, currentTasks, decodeTask, describeTasks, listTasks, listThreads, onlineCpus, perCpuOffsets, readTasks,
} from "./walkers/tasks.js";
export type { CpuTask, ListTasksOptions, Process, Task } from "./walkers/tasks.js";
export { CREDS, readCreds } from "./walkers/creds.js";
export type { Cred } from "./walkers/creds.js";
export { PID_IDR, listPids, walkXArray } from "./walkers/pid-idr.js";
export type { PidEntry, XaEntry } from "./walkers/pid-idr.js";
export { RBTREE, walkRbTree } from "./walkers/rbtree.js";
export { RUNQUEUES, listRunQueues } from "./walkers/runqueues.js";
export type { RunQueue } from "./walkers/runqueues.js";
export { MODULES, MODULE_KSET, listModuleKset, listModules } from "./walkers/modules.js";
export type { KsetEntry, Module } from "./walkers/modules.js";
export { MM, mmDtb } from "./walkers/mm.js";
export { VMAS, listVmas, walkMapleTree } from "./walkers/maple-tree.js";
export type { Vma } from "./walkers/maple-tree.js";
export { FILES, dentryPaths, listOpenFiles } from "./walkers/files.js";
export type { OpenFile } from "./walkers/files.js";
export { PROCFS, walkProcTree } from "./walkers/procfs.js";
export type { ProcEntry } from "./walkers/procfs.js";
// Plugins.
export { runPlugin } from "./plugins/plugin.js";
export type { Plugin, PluginResult } from "./plugins/plugin.js";
export { PS_COLUMNS, processes, ps, psRow } from "./plugins/ps.js";
export type { PsOptions } from "./plugins/ps.js";
export { pstree, treeOrder } from "./plugins/pstree.js";
export { lsmod } from "./plugins/lsmod.js";
export { regs } from "./plugins/regs.js";
export type { RegsOptions } from "./plugins/regs.js";
export { ALL_PLUGINS, ALL_REQUIREMENTS, findPlugin } from "./plugins/registry.js";
export type { PluginName } from "./plugins/registry.js";
// Integrity checks.
export { finder } from "./checks/check.js";
export type { IntegrityCheck, CheckContext, CheckOutcome, Finding, Severity } from "./checks/check.js";
export { ALL_CHECKS, mergeRerun, runChecks, selectChecks, walkFailed } from "./checks/run.js";
export type { CheckResult, ChecksReport, RunChecksOptions } from "./checks/run.js";
export { CodeMap, buildCodeMap } from "./checks/code-map.js";
export { checkOpsTables, functionPointerMembers } from "./checks/ops-table.js";
export { fileBaselineStore, memoryBaselineStore, parseBaseline } from "./checks/baseline.js";
export type { BaselineStore, TextBaseline } from "./checks/baseline.js";
export { hashKernelText, kernelText } from "./checks/kernel-text.js";
export { decodeGates, idt, syscallMsrs } from "./checks/cpu.js";
export type { Gate } from "./checks/cpu.js";
export { credentials, hiddenProcesses } from "./checks/processes.js";
export { procFops, tcpSeqOps } from "./checks/proc-fs.js";
export { keyboardNotifiers, netfilterHooks, syscallTable, ttyLdisc } from "./checks/kernel-hooks.js";
export { openFiles, processVmas } from "./checks/process-memory.js";
export { hiddenModules } from "./checks/modules.js";
