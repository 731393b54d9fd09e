/**
 * A Driver over sparse in-memory physical frames, for tests: configurable capabilities,
 * ranges, and a log of every call (to check batching). `enableRemote()` makes it behave
 * like an agent: page walks, virtual reads (with frames) and GatherList done on its side.
 */
import {
  NO_CAPABILITIES, machineInfo, type Driver, type DriverCapabilities, type FramedRead, type GatherListResult, type GatherListSpec, type InvalidationSink,
  type MachineInfo, type MemoryRange, type PhysRange, type PhysWrite, type ReadResult, type RemoteTranslation, type VirtRange,
} from "../driver.js";
import { VmiError, invalidAddress } from "../errors.js";
import { LocalWalker, type LocalChunk } from "./remote-ops.js";

export interface RemoteModeOptions {
  /** Offer framed virtual reads (default true). */
  readonly frames?: boolean;
  /** When offered, whether the peer really sends frames (default true; false = an older peer). */
  readonly framesSent?: boolean;
  /** Offer GatherList (default true). */
  readonly gather?: boolean;
  /** When offered, whether the peer refuses it (an older peer: UNSUPPORTED). */
  readonly gatherRefused?: boolean;
  readonly levels?: 4 | 5;
}

export class SparseDriver implements Driver {
  readonly name = "sparse";
  capabilities: DriverCapabilities;
  readonly frames: Map<bigint, Uint8Array>;
  readonly calls: Array<{ op: string; count: number }> = [];
  sink: InvalidationSink | undefined;
  /** Optional remote translation (enables capabilities.translate when set). */
  remoteTranslate: ((dtb: bigint, va: bigint) => RemoteTranslation | VmiError) | undefined;
  #remote: Required<RemoteModeOptions> | undefined;
  readonly #pokeListeners: Array<(gpa: bigint, len: number) => void> = [];

  /** `frames`: share another driver's memory (a second view of the same machine). */
  constructor(readonly memoryEnd = 1n << 32n, caps: Partial<DriverCapabilities> = {}, frames?: Map<bigint, Uint8Array>) {
    this.capabilities = { ...NO_CAPABILITIES, write: true, ...caps };
    this.frames = frames ?? new Map();
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
    for (const l of this.#pokeListeners) l(gpa, data.length);
  }

  /** Called after every write into this memory (e.g. to invalidate another view's cache). */
  onPoke(listener: (gpa: bigint, len: number) => void): void {
    this.#pokeListeners.push(listener);
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
    return Promise.resolve(ranges.map((r) => this.#readOne(r)));
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

  /** Walks, virtual reads and gathers on the driver's side, like an agent (capabilities set accordingly). */
  enableRemote(o: RemoteModeOptions = {}): this {
    this.#remote = { frames: o.frames ?? true, framesSent: o.framesSent ?? true, gather: o.gather ?? true, gatherRefused: o.gatherRefused ?? false, levels: o.levels ?? 4 };
    this.capabilities = { ...this.capabilities, translate: true, readVirt: true, virtFrames: this.#remote.frames, gatherList: this.#remote.gather };
    return this;
  }

  /** The peer's own view of memory (its table reads are not calls of this driver). */
  #walker(): LocalWalker {
    const mem = { readPhys: (rs: readonly PhysRange[]) => Promise.resolve(rs.map((r) => this.#readOne(r))), peek: (gpa: bigint, len: number) => this.peek(gpa, len) };
    return new LocalWalker(mem, this.memoryEnd, this.#remote?.levels ?? 4);
  }

  #readOne(r: PhysRange): ReadResult {
    return r.gpa < 0n || r.gpa + BigInt(r.len) > this.memoryEnd ? invalidAddress("physical", r.gpa < this.memoryEnd ? this.memoryEnd : r.gpa) : this.peek(r.gpa, r.len);
  }

  async translate(dtb: bigint, vas: readonly bigint[]): Promise<(RemoteTranslation | VmiError)[]> {
    if (this.#remote) {
      this.calls.push({ op: "translate", count: vas.length });
      const w = this.#walker();
      const out: (RemoteTranslation | VmiError)[] = [];
      for (const va of vas) {
        const t = await w.walk(dtb, va);
        out.push(t instanceof VmiError ? t : { va, pa: t.pa + (va & 0xfffn), pageSize: t.pageSize, writable: t.writable, user: t.user, nx: t.nx });
      }
      return out;
    }
    return this.#translateHook(dtb, vas);
  }

  async readVirt(dtb: bigint, ranges: readonly VirtRange[]): Promise<ReadResult[]> {
    this.calls.push({ op: "readVirt", count: ranges.length });
    const w = this.#walker();
    const out: ReadResult[] = [];
    for (const r of ranges) out.push(chunkResult(await w.readVirt(dtb, r.va, r.len), dtb));
    return out;
  }

  async readVirtFrames(dtb: bigint, ranges: readonly VirtRange[]): Promise<(FramedRead | VmiError)[]> {
    this.calls.push({ op: "readVirtFrames", count: ranges.length });
    const w = this.#walker();
    const out: (FramedRead | VmiError)[] = [];
    for (const r of ranges) {
      const c = await w.readVirt(dtb, r.va, r.len);
      const res = chunkResult(c, dtb);
      out.push(res instanceof VmiError ? res : { data: res, frames: this.#remote?.framesSent === false ? undefined : c.frames });
    }
    return out;
  }

  async gatherList(spec: GatherListSpec): Promise<GatherListResult> {
    this.calls.push({ op: "gatherList", count: 1 });
    if (this.#remote?.gatherRefused === true) throw new VmiError("UNSUPPORTED", "the peer does not implement gatherList", { driver: this.name, capability: "gatherList" });
    const g = await this.#walker().gather({ ...spec, nextOffset: BigInt(spec.nextOffset), readOffset: BigInt(spec.readOffset) });
    return { nodes: g.nodes, reads: g.chunks.map((c) => chunkResult(c, spec.dtb)), stop: g.stop };
  }

  #translateHook(dtb: bigint, vas: readonly bigint[]): Promise<(RemoteTranslation | VmiError)[]> {
    this.calls.push({ op: "translate", count: vas.length });
    const t = this.remoteTranslate;
    if (!t) return Promise.reject(new VmiError("UNSUPPORTED", "no remote translation"));
    return Promise.resolve(vas.map((va) => t(dtb, va)));
  }

  setInvalidationSink(sink: InvalidationSink): void {
    this.sink = sink;
  }

  /** How many calls of `op` were made (all ops when omitted). */
  count(op?: string): number {
    if (op === undefined) return this.calls.length;
    return this.calls.filter((c) => c.op === op).length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A local chunk as the agent driver would report it. */
function chunkResult(c: LocalChunk, dtb: bigint): ReadResult {
  if (c.status === "ok") return c.data;
  if (c.status === "out-of-range") return invalidAddress("virtual", c.faultAddr);
  return new VmiError("PAGE_FAULT", `page fault at VA 0x${c.faultAddr.toString(16)} (dtb 0x${dtb.toString(16)})`, { layer: "virtual", address: c.faultAddr, dtb });
}
