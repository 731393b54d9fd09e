/**
 * The byte rings of the VMPL0 NIC (src/shared/spec/seven-nic.ts), over any accessor of the
 * shared pages: the host uses HypervisorPort.read/write, test agents use Cpu.readPhys/
 * writePhys with `shared: true`. Counters are free-running byte counts; data sits at
 * counter mod SIZE and wraps. Everything read from the other side is checked: a counter
 * that runs backwards or claims more than the ring holds, or a record header with an
 * unknown kind, a non-zero reserved field or an oversized length, is a `DecodeError`.
 */
import { DecodeError, readU16, readU32, readU64, writeU16, writeU32, writeU64 } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { NIC_CONTROL, NIC_MAGIC, NIC_MAX_RECORD, NIC_RECORD_HEADER, NIC_RECORD_KIND, NIC_VERSION } from "../../shared/spec/index.js";
import type { NicLayout, NicRecordKind } from "../../shared/spec/index.js";

export interface SharedMemory {
  read(gpa: Gpa, len: number): Uint8Array;
  write(gpa: Gpa, data: Uint8Array): void;
}

export const RECORD_HEADER_SIZE = NIC_RECORD_HEADER.size;
const OFF = {
  rxProd: NIC_CONTROL.offsetOf("rx_prod"),
  rxCons: NIC_CONTROL.offsetOf("rx_cons"),
  txProd: NIC_CONTROL.offsetOf("tx_prod"),
  txCons: NIC_CONTROL.offsetOf("tx_cons"),
  hostFlags: NIC_CONTROL.offsetOf("host_flags"),
  agentFlags: NIC_CONTROL.offsetOf("agent_flags"),
} as const;
export type ControlCounter = "rxProd" | "rxCons" | "txProd" | "txCons";

/** The control page and both rings of one NIC, as seen through `mem`. */
export class NicRings {
  readonly mem: SharedMemory;
  readonly nic: NicLayout;

  constructor(mem: SharedMemory, nic: NicLayout) {
    this.mem = mem;
    this.nic = nic;
  }

  /** Writes a fresh control page (the host does this once, before the agent boots). */
  initControl(): void {
    this.mem.write(this.nic.control, NIC_CONTROL.serialize({
      magic: NIC_MAGIC,
      version: NIC_VERSION,
      rx_size: this.nic.rxBytes,
      tx_size: this.nic.txBytes,
      rx_prod: 0n,
      rx_cons: 0n,
      tx_prod: 0n,
      tx_cons: 0n,
      host_flags: 0,
      agent_flags: 0,
    }));
  }

  /** Checks magic, version and sizes of the control page (a reader's first step). */
  checkControl(): void {
    const c = this.mem.read(this.nic.control, NIC_CONTROL.size);
    if (readU32(c, 0) !== NIC_MAGIC || readU32(c, 4) !== NIC_VERSION) throw new DecodeError("NIC_BAD_CONTROL", "NIC control page: bad magic or version");
    if (readU32(c, 8) !== this.nic.rxBytes || readU32(c, 12) !== this.nic.txBytes) throw new DecodeError("NIC_BAD_CONTROL", "NIC control page: ring sizes differ from the layout");
  }

  counter(name: ControlCounter): number {
    const v = readU64(this.mem.read((this.nic.control + BigInt(OFF[name])) as Gpa, 8), 0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("NIC_BAD_COUNTER", `NIC ${name} is out of range`, { field: name });
    return Number(v);
  }

  setCounter(name: ControlCounter, v: number): void {
    const b = new Uint8Array(8);
    writeU64(b, 0, BigInt(v));
    this.mem.write((this.nic.control + BigInt(OFF[name])) as Gpa, b);
  }

  flags(which: "host" | "agent"): number {
    return readU32(this.mem.read((this.nic.control + BigInt(which === "host" ? OFF.hostFlags : OFF.agentFlags)) as Gpa, 4), 0);
  }

  setFlags(which: "host" | "agent", v: number): void {
    const b = new Uint8Array(4);
    writeU32(b, 0, v >>> 0);
    this.mem.write((this.nic.control + BigInt(which === "host" ? OFF.hostFlags : OFF.agentFlags)) as Gpa, b);
  }

  /** Copies `data` into a ring at byte counter `at` (wrapping). */
  put(ring: "rx" | "tx", at: number, data: Uint8Array): void {
    const [base, size] = this.#ring(ring);
    let off = at % size;
    let done = 0;
    while (done < data.length) {
      const n = Math.min(data.length - done, size - off);
      this.mem.write((base + BigInt(off)) as Gpa, data.subarray(done, done + n));
      done += n;
      off = 0;
    }
  }

  /** Reads `len` bytes of a ring at byte counter `at` (wrapping). */
  get(ring: "rx" | "tx", at: number, len: number): Uint8Array {
    const [base, size] = this.#ring(ring);
    let off = at % size;
    if (off + len <= size) return this.mem.read((base + BigInt(off)) as Gpa, len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = Math.min(len - done, size - off);
      out.set(this.mem.read((base + BigInt(off)) as Gpa, n), done);
      done += n;
      off = 0;
    }
    return out;
  }

  size(ring: "rx" | "tx"): number {
    return ring === "rx" ? this.nic.rxBytes : this.nic.txBytes;
  }

  #ring(ring: "rx" | "tx"): [bigint, number] {
    return ring === "rx" ? [this.nic.rx, this.nic.rxBytes] : [this.nic.tx, this.nic.txBytes];
  }
}

export interface RecordHeader {
  readonly conn: number;
  readonly kind: NicRecordKind;
  readonly length: number;
}

export function encodeRecordHeader(h: RecordHeader): Uint8Array {
  const b = new Uint8Array(RECORD_HEADER_SIZE);
  writeRecordHeader(b, 0, h);
  return b;
}

/** Writes a record header into `b` at `at` (the reserved field zero). */
export function writeRecordHeader(b: Uint8Array, at: number, h: RecordHeader): void {
  writeU32(b, at, h.conn >>> 0);
  writeU16(b, at + 4, h.kind);
  writeU16(b, at + 6, 0);
  writeU32(b, at + 8, h.length);
}

/** Decodes and checks a record header written by the other side. */
export function decodeRecordHeader(b: Uint8Array): RecordHeader {
  if (b.length !== RECORD_HEADER_SIZE) throw new DecodeError("NIC_BAD_RECORD", "NIC record header has the wrong size");
  return decodeRecordHeaderAt(b, 0);
}

/** Decodes and checks the record header at `at` in `b` (a copy of ring bytes; no view is kept). */
export function decodeRecordHeaderAt(b: Uint8Array, at: number): RecordHeader {
  if (!Number.isInteger(at) || at < 0 || at + RECORD_HEADER_SIZE > b.length) throw new DecodeError("NIC_BAD_RECORD", "NIC record header is cut short");
  const conn = readU32(b, at);
  const kind = readU16(b, at + 4);
  const reserved = readU16(b, at + 6);
  const length = readU32(b, at + 8);
  if (reserved !== 0) throw new DecodeError("NIC_BAD_RECORD", "NIC record: reserved field is not zero", { conn, kind });
  if (kind !== NIC_RECORD_KIND.OPEN && kind !== NIC_RECORD_KIND.DATA && kind !== NIC_RECORD_KIND.CLOSE) {
    throw new DecodeError("NIC_BAD_RECORD", `NIC record: unknown kind ${kind}`, { conn, kind });
  }
  if (length > NIC_MAX_RECORD || (kind === NIC_RECORD_KIND.CLOSE && length !== 0)) {
    throw new DecodeError("NIC_BAD_RECORD", `NIC record: bad length ${length} for kind ${kind}`, { conn, kind, length });
  }
  return { conn, kind: kind as NicRecordKind, length };
}

/**
 * Checks a (producer, consumer) pair read from the shared page against the ring size and
 * the value this side last knew: consumer ≤ producer, fill ≤ size, nothing runs backwards.
 */
export function checkCounters(prod: number, cons: number, size: number, last: { prod: number; cons: number }): void {
  if (cons > prod || prod - cons > size || prod < last.prod || cons < last.cons) {
    throw new DecodeError("NIC_BAD_COUNTER", "NIC ring counters are inconsistent", { prod, cons, size, lastProd: last.prod, lastCons: last.cons });
  }
}
