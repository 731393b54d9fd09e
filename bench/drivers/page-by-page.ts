/**
 * The prototype's access pattern imposed on any driver: every physical read becomes one
 * 4 KiB page per request, sent one after another (no batching, no pipelining); no
 * agent-side walks (the Vmi walks page tables itself, one table page per request); registers
 * one vCPU per request, repeated once per register the prototype reads (49). Used when
 * the real v0 protocol is not available, and to separate the pattern from the protocol.
 */
import { NO_CAPABILITIES, type Driver, type DriverCapabilities, type InvalidationSink, type MachineInfo, type PhysRange, type ReadResult, type VcpuRegisters } from "../../src/client/index.js";
import { V0_REGISTER_READS } from "./v0-driver.js";

export class PageByPageDriver implements Driver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  readonly #inner: Driver;
  /** Requests sent to the inner driver. */
  roundTrips = 0;

  constructor(inner: Driver) {
    this.#inner = inner;
    this.name = `${inner.name}/page-by-page`;
    this.capabilities = Object.freeze({ ...NO_CAPABILITIES, registers: inner.capabilities.registers, pause: inner.capabilities.pause, live: inner.capabilities.live });
  }

  info(): Promise<MachineInfo> {
    return this.#inner.info();
  }

  async readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    const out: ReadResult[] = [];
    for (const r of ranges) {
      const buf = new Uint8Array(r.len);
      let at = r.gpa;
      let o = 0;
      let err: ReadResult | undefined;
      while (o < r.len) {
        const page = at & ~0xfffn;
        const off = Number(at - page);
        const n = Math.min(r.len - o, 4096 - off);
        this.roundTrips++;
        const [res] = await this.#inner.readPhys([{ gpa: page, len: 4096 }]);
        if (!(res instanceof Uint8Array)) {
          err = res;
          break;
        }
        buf.set(res.subarray(off, off + n), o);
        o += n;
        at += BigInt(n);
      }
      out.push(err ?? buf);
    }
    return out;
  }

  async getRegisters(vcpus?: readonly number[]): Promise<VcpuRegisters[]> {
    const list = vcpus ?? Array.from({ length: (await this.info()).vcpuCount }, (_, i) => i);
    const out: VcpuRegisters[] = [];
    for (const v of list) {
      let last: VcpuRegisters | undefined;
      for (let i = 0; i < V0_REGISTER_READS; i++) {
        this.roundTrips++;
        [last] = await this.#inner.getRegisters!([v]);
      }
      out.push(last!);
    }
    return out;
  }

  pause(): Promise<void> {
    this.roundTrips++;
    return this.#inner.pause!();
  }

  resume(): Promise<void> {
    this.roundTrips++;
    return this.#inner.resume!();
  }

  setInvalidationSink(sink: InvalidationSink): void {
    this.#inner.setInvalidationSink?.(sink);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
