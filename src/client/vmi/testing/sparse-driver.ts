/**
 * A Driver over sparse in-memory physical frames, for tests: configurable capabilities,
 * ranges, and a log of every call (to check batching).
 */
import { NO_CAPABILITIES, machineInfo, type Driver, type DriverCapabilities, type InvalidationSink, type MachineInfo, type MemoryRange, type PhysRange, type PhysWrite, type ReadResult, type RemoteTranslation } from "../driver.js";
import { VmiError, invalidAddress } from "../errors.js";

export class SparseDriver implements Driver {
  readonly name = "sparse";
  capabilities: DriverCapabilities;
  readonly frames = new Map<bigint, Uint8Array>();
  readonly calls: Array<{ op: string; count: number }> = [];
  sink: InvalidationSink | undefined;
  /** Optional remote translation (enables capabilities.translate when set). */
  remoteTranslate: ((dtb: bigint, va: bigint) => RemoteTranslation | VmiError) | undefined;

  constructor(readonly memoryEnd = 1n << 32n, caps: Partial<DriverCapabilities> = {}) {
    this.capabilities = { ...NO_CAPABILITIES, write: true, ...caps };
  }

  info(): Promise<MachineInfo> {
    const ranges: MemoryRange[] = [{ gpa: 0n, len: this.memoryEnd }];
    return Promise.resolve(machineInfo(1, ranges));
  }

  #frame(f: bigint, create: boolean): Uint8Array | undefined {
    let b = this.frames.get(f);
    if (!b && create) {
      b = new Uint8Array(4096);
      this.frames.set(f, b);
    }
    return b;
  }

  poke(gpa: bigint, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = gpa + BigInt(i);
      this.#frame(a >> 12n, true)![Number(a & 0xfffn)] = data[i]!;
    }
  }
  poke64(gpa: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.poke(gpa, b);
  }
  peek(gpa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = gpa + BigInt(i);
      out[i] = this.#frame(a >> 12n, false)?.[Number(a & 0xfffn)] ?? 0;
    }
    return out;
  }

  readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    this.calls.push({ op: "readPhys", count: ranges.length });
    return Promise.resolve(
      ranges.map((r) => (r.gpa < 0n || r.gpa + BigInt(r.len) > this.memoryEnd ? invalidAddress("physical", r.gpa < this.memoryEnd ? this.memoryEnd : r.gpa) : this.peek(r.gpa, r.len))),
    );
  }

  writePhys(writes: readonly PhysWrite[]): Promise<(VmiError | undefined)[]> {
    this.calls.push({ op: "writePhys", count: writes.length });
    return Promise.resolve(
      writes.map((w) => {
        if (w.gpa < 0n || w.gpa + BigInt(w.data.length) > this.memoryEnd) return invalidAddress("physical", w.gpa);
        this.poke(w.gpa, w.data);
        return undefined;
      }),
    );
  }

  translate(dtb: bigint, vas: readonly bigint[]): Promise<(RemoteTranslation | VmiError)[]> {
    this.calls.push({ op: "translate", count: vas.length });
    const t = this.remoteTranslate;
    if (!t) return Promise.reject(new VmiError("UNSUPPORTED", "no remote translation"));
    return Promise.resolve(vas.map((va) => t(dtb, va)));
  }

  setInvalidationSink(sink: InvalidationSink): void {
    this.sink = sink;
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
