/**
 * The confidential backend: the VMI service's machine access as the VMPL0 agent has it,
 * through the `Cpu` of the current VMRUN (so nothing happens while the host does not run
 * VMPL0). Guest pages are read and written privately (C=1, VMPL0 has full rights); pages
 * the layout shares by design, or that the guest turned shared, are accessed with C=0.
 * The VMPL1 VMSA pages are read and written directly (SNP.md §4.4). Pause and traps are
 * RMPADJUST on VMPL1 (SNP.md §4.4): the VMSA bit of a VMPL1 VMSA page, and VMPL1's
 * permission mask of a guest page.
 */
import type { Gpa } from "../shared/base/index.js";
import { PAGE_SIZE } from "../shared/base/index.js";
import { RMP_RESULT, VMSA_SIZE } from "../shared/spec/index.js";
import type { SevenLayout } from "../shared/spec/index.js";
import { CpuFault } from "../platform/index.js";
import type { Cpu } from "../platform/index.js";
import type { MachineBackend, MachineFacts, RunControl, AccessControl } from "./backend.js";
import { factsFromLayout } from "./backend.js";
import { AgentInvariantError, BackendAccessError } from "./errors.js";

const P = BigInt(PAGE_SIZE);
const GUEST_VMPL = 1;

export class Vmpl0Backend implements MachineBackend {
  readonly facts: MachineFacts;
  readonly faults = true;
  readonly control: RunControl;
  readonly access: AccessControl;
  readonly #layout: SevenLayout;
  #cpu: Cpu | undefined;

  constructor(layout: SevenLayout, cBit: number) {
    this.#layout = layout;
    this.facts = factsFromLayout(layout, cBit);
    this.control = {
      setRunnable: (vcpu, runnable) => {
        const rc = this.#guarded(() => this.cpu.rmpadjust(this.#vmsa1(vcpu), 0, GUEST_VMPL, 0, runnable));
        if (rc !== RMP_RESULT.SUCCESS) throw new AgentInvariantError("PLATFORM_REFUSED", "RMPADJUST of a VMPL1 VMSA failed", { vcpu, rc });
      },
    };
    this.access = {
      setGuestRights: (page, perms) => {
        let rc: number;
        try {
          rc = this.cpu.rmpadjust(page as Gpa, 0, GUEST_VMPL, perms, false);
        } catch (e) {
          if (e instanceof CpuFault) throw new BackendAccessError(page, `RMPADJUST of the guest page faulted (${e.code})`);
          throw e;
        }
        if (rc !== RMP_RESULT.SUCCESS) throw new BackendAccessError(page, `RMPADJUST of the guest page failed (rc ${rc})`);
      },
    };
  }

  /** Binds the Cpu of the current step; every access needs one. */
  bind(cpu: Cpu | undefined): void {
    this.#cpu = cpu;
  }

  get cpu(): Cpu {
    if (this.#cpu === undefined) throw new AgentInvariantError("NOT_RUNNING", "machine access outside a VMRUN");
    return this.#cpu;
  }

  #vmsa1(vcpu: number): Gpa {
    const g = this.#layout.vmsa1[vcpu];
    if (g === undefined) throw new AgentInvariantError("STATE", `no vCPU ${vcpu}`, { vcpu });
    return g;
  }

  readPhys(gpa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readPhysInto(gpa, out, 0, len);
    return out;
  }

  readPhysInto(gpa: bigint, dst: Uint8Array, offset: number, len: number): void {
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(len) || len < 0 || offset + len > dst.length) {
      throw new AgentInvariantError("STATE", "read into a buffer too small", { offset, len, size: dst.length });
    }
    this.#pages(gpa, len, (at, n, done, shared) => this.cpu.readPhysInto(at as Gpa, dst, offset + done, n, { shared }));
  }

  writePhys(gpa: bigint, data: Uint8Array): void {
    this.#pages(gpa, data.length, (at, n, done, shared) => this.cpu.writePhysFrom(at as Gpa, data, done, n, { shared }));
  }

  /**
   * Runs of pages with the same expected encryption go to the platform in one call; if
   * one faults, that run is retried page by page, each page trying the expected
   * encryption first, then the other (a page the guest has turned shared).
   */
  #pages(gpa: bigint, len: number, each: (at: bigint, n: number, done: number, shared: boolean) => void): void {
    let done = 0;
    while (done < len) {
      const start = gpa + BigInt(done);
      const shared = this.facts.isSharedPage(start);
      let n = Math.min(len - done, Number(P - (start % P)));
      while (done + n < len && this.facts.isSharedPage(start + BigInt(n)) === shared) n = Math.min(len - done, n + PAGE_SIZE);
      try {
        each(start, n, done, shared);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        this.#pageByPage(start, n, done, each);
      }
      done += n;
    }
  }

  #pageByPage(gpa: bigint, len: number, base: number, each: (at: bigint, n: number, done: number, shared: boolean) => void): void {
    let done = 0;
    while (done < len) {
      const at = gpa + BigInt(done);
      const n = Math.min(len - done, Number(P - (at % P)));
      const shared = this.facts.isSharedPage(at);
      try {
        each(at, n, base + done, shared);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        if (e.code !== "npf") throw new BackendAccessError(at, `guest page refused the access (${e.code})`);
        try {
          each(at, n, base + done, !shared);
        } catch (e2) {
          if (!(e2 instanceof CpuFault)) throw e2;
          throw new BackendAccessError(at, "guest page is neither private to the guest nor shared");
        }
      }
      done += n;
    }
  }

  readVmsa(vcpu: number, offset = 0, len = VMSA_SIZE - offset): Uint8Array {
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > VMSA_SIZE) {
      throw new AgentInvariantError("STATE", "VMSA read outside the save area", { offset, len });
    }
    return this.#guarded(() => this.cpu.readPhys((this.#vmsa1(vcpu) + BigInt(offset)) as Gpa, len));
  }

  /** A fault on the agent's own VMSA pages means the host broke the RMP under us: invariant. */
  #guarded<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof CpuFault) throw new AgentInvariantError("PLATFORM_REFUSED", `VMSA access faulted (${e.code})`);
      throw e;
    }
  }

  writeVmsa(vcpu: number, offset: number, data: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > VMSA_SIZE) {
      throw new AgentInvariantError("STATE", "VMSA write outside the save area", { offset, length: data.length });
    }
    this.#guarded(() => this.cpu.writePhys((this.#vmsa1(vcpu) + BigInt(offset)) as Gpa, data));
  }

  now(): bigint {
    return this.cpu.rdtsc();
  }
}
