/**
 * A Driver over a parsed memory image: physical reads (and writes, for in-memory
 * images opened writable), registers when the image carries them. Not live: the bytes
 * never change behind the reader's back.
 */
import { NO_CAPABILITIES, machineInfo, type Driver, type DriverCapabilities, type MachineInfo, type PhysRange, type PhysWrite, type ReadResult } from "../driver.js";
import { VmiError, badArgument, unsupported } from "../errors.js";
import type { RegisterSet, VcpuRegisters } from "../registers.js";
import type { ImageFormat } from "./image-error.js";
import type { ByteSource } from "./byte-source.js";
import { SegmentMap, type Segment } from "./segment-map.js";
import type { ElfNote } from "./elf-core.js";

export interface ImageDriverInit {
  readonly format: Exclude<ImageFormat, "gzip">;
  readonly source: ByteSource;
  readonly segments: readonly Segment[];
  readonly vcpus?: readonly VcpuRegisters[];
  readonly writable?: boolean;
  /** ELF notes (e.g. VMCOREINFO in kdump cores), for whoever can use them. */
  readonly notes?: readonly ElfNote[];
}

export class ImageDriver implements Driver {
  readonly name: string;
  readonly format: Exclude<ImageFormat, "gzip">;
  readonly capabilities: DriverCapabilities;
  readonly source: ByteSource;
  readonly map: SegmentMap;
  readonly notes: readonly ElfNote[];
  readonly #vcpus: readonly VcpuRegisters[];
  readonly #writable: boolean;
  #closed = false;

  constructor(init: ImageDriverInit) {
    this.format = init.format;
    this.name = init.format;
    this.source = init.source;
    this.map = new SegmentMap(init.source, init.segments);
    this.#vcpus = init.vcpus ?? [];
    this.notes = init.notes ?? [];
    this.#writable = (init.writable ?? false) && init.source.write !== undefined;
    this.capabilities = { ...NO_CAPABILITIES, write: this.#writable, registers: this.#vcpus.length > 0 };
  }

  /** Where the image came from. */
  get file(): string {
    return this.source.name;
  }

  async info(): Promise<MachineInfo> {
    return machineInfo(this.#vcpus.length, this.map.ranges);
  }

  async readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    this.#open();
    return this.map.read(ranges);
  }

  async writePhys(writes: readonly PhysWrite[]): Promise<(VmiError | undefined)[]> {
    this.#open();
    if (!this.#writable) throw unsupported(this.name, "write");
    return this.map.write(writes);
  }

  async getRegisters(vcpus?: readonly number[]): Promise<VcpuRegisters[]> {
    this.#open();
    if (this.#vcpus.length === 0) throw unsupported(this.name, "registers");
    if (vcpus === undefined) return [...this.#vcpus];
    return vcpus.map((v) => {
      const r = this.#vcpus[v];
      if (!Number.isInteger(v) || r === undefined) throw badArgument("vcpu", `no vCPU ${v} (image has ${this.#vcpus.length})`, { vcpu: v });
      return r;
    });
  }

  /** Convenience: one vCPU's RegisterSet. */
  async registers(vcpu: number): Promise<RegisterSet> {
    const [r] = await this.getRegisters([vcpu]);
    return r!.regs;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.source.close();
  }

  #open(): void {
    if (this.#closed) throw new VmiError("DRIVER_CLOSED", `${this.name} driver for ${this.file} is closed`, { driver: this.name });
  }
}
