/**
 * A SparseDriver for Linux-layer tests: page-wise reads (fast over large unbacked
 * ranges, e.g. 14 MiB of kernel text) and optional vCPU registers.
 */
import type { VcpuRegisters } from "../../vmi/index.js";
import { SparseDriver } from "../../vmi/testing/sparse-driver.js";

export class TestDriver extends SparseDriver {
  vcpus: VcpuRegisters[] | undefined;

  /** `frames`: share another driver's memory (a second view of the same machine). */
  constructor(memoryEnd: bigint, vcpus?: VcpuRegisters[], frames?: Map<bigint, Uint8Array>) {
    super(memoryEnd, { registers: vcpus !== undefined }, frames);
    this.vcpus = vcpus;
  }

  override peek(gpa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let o = 0;
    while (o < len) {
      const a = gpa + BigInt(o);
      const inPage = Number(a & 0xfffn);
      const n = Math.min(4096 - inPage, len - o);
      const f = this.frames.get(a >> 12n);
      if (f) out.set(f.subarray(inPage, inPage + n), o);
      o += n;
    }
    return out;
  }

  setVcpus(vcpus: VcpuRegisters[] | undefined): void {
    this.vcpus = vcpus;
    this.capabilities = { ...this.capabilities, registers: vcpus !== undefined };
  }

  getRegisters(which?: readonly number[]): Promise<VcpuRegisters[]> {
    const all = this.vcpus ?? [];
    return Promise.resolve(which === undefined ? all : all.filter((v) => which.includes(v.vcpu)));
  }

  override info() {
    return super.info().then((i) => ({ ...i, vcpuCount: this.vcpus?.length ?? 2 }));
  }
}
