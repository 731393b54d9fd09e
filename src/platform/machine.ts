/**
 * The SEV-SNP machine: guest memory, the RMP, the access path, vCPUs (VMSAs in guest
 * memory), the host view and the AMD secure processor, wired together. The hypervisor gets
 * `hypervisor` (a HypervisorPort); the composition root installs one VcpuProgram per VMPL;
 * nothing else of the machine leaves src/platform.
 */
import { createHash } from "node:crypto";
import type { Clock, Gpa } from "../shared/base/index.js";
import { SeededRng, toHex } from "../shared/base/index.js";
import { DEFAULT_C_BIT, MAX_VCPUS, VMPL_COUNT } from "../shared/spec/index.js";
import { AccessPath } from "./access-path.js";
import type { AspPort, HypervisorPort, PlainAccess, RmpEntryView, VcpuProgram, VmExit } from "./api.js";
import { createSecureProcessor } from "./asp/index.js";
import type { SecureProcessorPort } from "./asp/index.js";
import type { AspConfig, Product } from "./asp/hardware.js";
import { MachineAspHardware } from "./asp-hardware.js";
import type { CpuEnv } from "./cpu.js";
import { PlatformError } from "./fault.js";
import { HostView, MemoryCipher } from "./host-view.js";
import type { MachineSnapshot, MachineStats } from "./machine-snapshot.js";
import { SNAPSHOT_FORMAT, checkSnapshot } from "./machine-snapshot.js";
import { GuestMemory, PAGE } from "./memory.js";
import { hostRmpUpdate } from "./page-state.js";
import { RmpTable } from "./rmp-table.js";
import type { RunCore } from "./vmrun.js";
import { isVmsaPage, vmrun } from "./vmrun.js";

export interface MachineConfig {
  readonly memoryBytes: bigint;
  readonly vcpus: number;
  /** Position of the C-bit (32..51); 51 by default. */
  readonly cBit?: number;
  /** Seeds the memory-encryption key and the ASP's randomness. */
  readonly seed: string | number | bigint;
  readonly clock: Clock;
  /** False: an ordinary VM (no RMP, no encryption, plainAccess). Default true. */
  readonly sev?: boolean;
  readonly product?: Product;
  readonly asp?: Partial<AspConfig>;
}

export interface Machine {
  readonly hypervisor: HypervisorPort;
  /** Installs the code that runs when a VMSA of this VMPL is VMRUN (composition root only). */
  installProgram(vmpl: number, program: VcpuProgram): void;
  stats(): MachineStats;
  snapshot(): MachineSnapshot;
  restore(s: MachineSnapshot): void;
}

/** The guest's ASID (one guest per machine). */
export const GUEST_ASID = 1;

/** The machine and its internals (for the platform's own tests). */
export interface MachineParts {
  readonly machine: Machine;
  readonly mem: GuestMemory;
  readonly rmp: RmpTable | undefined;
  readonly path: AccessPath;
  readonly hw: MachineAspHardware | undefined;
}

export function createMachine(cfg: MachineConfig): Machine {
  return buildMachine(cfg).machine;
}

export function buildMachine(cfg: MachineConfig): MachineParts {
  const sev = cfg.sev ?? true;
  const cBit = cfg.cBit ?? DEFAULT_C_BIT;
  if (!Number.isInteger(cBit) || cBit < 32 || cBit > 51) throw new PlatformError("BAD_ARGUMENT", `C-bit position must be 32..51 (got ${cBit})`);
  if (typeof cfg.memoryBytes !== "bigint" || cfg.memoryBytes > 1n << BigInt(cBit)) {
    throw new PlatformError("BAD_ARGUMENT", "guest memory must lie below the C-bit", { memoryBytes: cfg.memoryBytes, cBit });
  }
  if (!Number.isInteger(cfg.vcpus) || cfg.vcpus < 1 || cfg.vcpus > MAX_VCPUS) {
    throw new PlatformError("BAD_ARGUMENT", `vCPU count must be 1..${MAX_VCPUS} (got ${cfg.vcpus})`);
  }
  const root = new SeededRng(cfg.seed);
  const key = root.fork("platform/memory-encryption").bytes(64);
  const keyId = toHex(createHash("sha256").update(key).digest()).slice(0, 32);
  const cipher = sev ? new MemoryCipher(key) : undefined;
  const mem = new GuestMemory(cfg.memoryBytes, cipher);
  const rmp = sev ? new RmpTable(mem.pageCount, GUEST_ASID) : undefined;
  const path = new AccessPath(mem, rmp, cBit);
  const host = new HostView(mem, rmp, cipher);
  const hw = rmp !== undefined ? new MachineAspHardware(mem, rmp) : undefined;
  const aspRng = root.fork("platform/asp");
  const aspCfg: AspConfig = { product: cfg.product ?? "milan", rng: aspRng, clock: cfg.clock, ...cfg.asp };
  const sp: SecureProcessorPort | undefined = hw !== undefined ? createSecureProcessor(hw, aspCfg) : undefined;

  const ghcb = new Map<number, bigint>();
  const running = new Map<number, number>();
  const env: CpuEnv = {
    path,
    rmp,
    cBit,
    clock: cfg.clock,
    ghcbMsr: (pfn) => ghcb.get(pfn) ?? 0n,
    setGhcbMsr: (pfn, v) => {
      ghcb.set(pfn, v);
    },
    vmsaInUse: (pfn) => {
      for (const p of running.values()) if (p === pfn) return true;
      return false;
    },
  };
  const programs: (VcpuProgram | undefined)[] = new Array<VcpuProgram | undefined>(VMPL_COUNT).fill(undefined);
  const core: RunCore = {
    mem,
    rmp,
    vcpuCount: cfg.vcpus,
    programs,
    env,
    running,
    lastVmsa: new Array<number | undefined>(cfg.vcpus).fill(undefined),
    retired: Array.from({ length: cfg.vcpus }, () => new Array<number>(VMPL_COUNT).fill(0)),
    exits: new Map(),
    vmruns: 0,
  };

  const needSev = (what: string): RmpTable => {
    if (rmp === undefined) throw new PlatformError("NOT_SEV", `${what} needs an SEV-SNP machine`);
    return rmp;
  };
  const pfnOf = (gpa: Gpa, what: string): number => {
    if (typeof gpa !== "bigint" || gpa < 0n || gpa >= mem.bytes || gpa % BigInt(PAGE) !== 0n) {
      throw new PlatformError("BAD_GPA", `${what}: GPA 0x${BigInt(gpa).toString(16)} is not a page of guest memory`, { gpa });
    }
    return Number(gpa) / PAGE;
  };

  const plain: PlainAccess = {
    readPhys: (gpa, len) => host.read(gpa, len),
    writePhys: (gpa, data) => host.write(gpa, data),
    vmsaOf: (vcpu) => {
      const p = Number.isInteger(vcpu) ? core.lastVmsa[vcpu] : undefined;
      if (p === undefined) throw new PlatformError("BAD_VCPU", `vCPU ${vcpu} has no running context`, { vcpu });
      return BigInt(p * PAGE) as Gpa;
    },
  };

  const asp: AspPort = sp ?? notSevAsp();
  const hypervisor: HypervisorPort = {
    memoryBytes: mem.bytes,
    vcpuCount: cfg.vcpus,
    cBit,
    sev,
    read: (gpa, len) => host.read(gpa, len),
    write: (gpa, data) => host.write(gpa, data),
    rmpRead: (gpa): RmpEntryView => needSev("RMP read").view(pfnOf(gpa, "RMP read")),
    rmpUpdate: (gpa, e) => {
      const table = needSev("RMPUPDATE");
      const size = e.pageSize ?? 0;
      if (size !== 0 && size !== 1) throw new PlatformError("BAD_ARGUMENT", `bad page size ${String(size)}`);
      hostRmpUpdate(mem, table, pfnOf(gpa, "RMPUPDATE"), e.assigned === true, size);
    },
    vmrun: (vcpu, vmsaGpa, budget): VmExit => vmrun(core, vcpu, vmsaGpa, budget),
    setGhcbMsr: (vmsaGpa, value) => {
      const pfn = pfnOf(vmsaGpa, "setGhcbMsr");
      if (!isVmsaPage(rmp, pfn)) {
        throw new PlatformError("BAD_GPA", `setGhcbMsr: GPA 0x${vmsaGpa.toString(16)} is not a VMSA page of this guest`, { gpa: vmsaGpa });
      }
      if (typeof value !== "bigint") throw new PlatformError("BAD_ARGUMENT", "the GHCB MSR value must be a bigint");
      ghcb.set(pfn, BigInt.asUintN(64, value));
    },
    asp,
    plainAccess: () => {
      if (sev) throw new PlatformError("NOT_SEV", "plainAccess() exists only on a machine without SEV");
      return plain;
    },
  };

  const config = { memoryBytes: mem.bytes.toString(), vcpus: cfg.vcpus, cBit, sev, keyId };
  const machine: Machine = {
    hypervisor,
    installProgram(vmpl, program) {
      if (!Number.isInteger(vmpl) || vmpl < 0 || vmpl >= VMPL_COUNT) throw new PlatformError("BAD_ARGUMENT", `no VMPL ${vmpl}`);
      if (typeof program?.step !== "function") throw new PlatformError("BAD_ARGUMENT", "a VcpuProgram needs a step function");
      programs[vmpl] = program;
    },
    stats: () => ({
      retired: core.retired.map((r) => [...r]),
      exits: Object.fromEntries([...core.exits].sort((a, b) => a[0] - b[0])),
      vmruns: core.vmruns,
      allocatedPages: mem.allocatedPages(),
    }),
    snapshot: (): MachineSnapshot => {
      if (running.size > 0) throw new PlatformError("SNAPSHOT", "cannot snapshot while a vCPU is running");
      return {
        format: SNAPSHOT_FORMAT,
        config,
        memory: mem.snapshot(),
        rmp: rmp?.snapshot() ?? null,
        ghcbMsrs: [...ghcb].sort((a, b) => a[0] - b[0]).map(([p, v]) => [p, v.toString(16)] as const),
        lastVmsa: core.lastVmsa.map((p) => p ?? null),
        retired: core.retired.map((r) => [...r]),
        exits: [...core.exits].sort((a, b) => a[0] - b[0]),
        vmruns: core.vmruns,
        asp: sp?.snapshot() ?? null,
        aspRng: aspRng.snapshot(),
      };
    },
    restore: (s: MachineSnapshot) => {
      if (running.size > 0) throw new PlatformError("SNAPSHOT", "cannot restore while a vCPU is running");
      checkSnapshot(s, config);
      mem.restore(s.memory);
      if (rmp !== undefined && s.rmp !== null) rmp.restore(s.rmp);
      ghcb.clear();
      for (const [p, v] of s.ghcbMsrs) ghcb.set(p, BigInt(`0x${v}`));
      s.lastVmsa.forEach((p, i) => (core.lastVmsa[i] = p ?? undefined));
      s.retired.forEach((r, i) => (core.retired[i] = [...r]));
      core.exits.clear();
      for (const [c, n] of s.exits) core.exits.set(c, n);
      core.vmruns = s.vmruns;
      aspRng.restore(s.aspRng);
      if (sp !== undefined) sp.restore(s.asp);
    },
  };
  return { machine, mem, rmp, path, hw };
}

function notSevAsp(): AspPort {
  const no = (): never => {
    throw new PlatformError("NOT_SEV", "this machine has no SEV-SNP firmware (non-confidential VM)");
  };
  return {
    launchStart: no,
    launchUpdate: no,
    launchFinish: no,
    get launchDigest(): Uint8Array {
      return no();
    },
    guestRequest: no,
    certificates: no,
  };
}
