/**
 * The agent's side of the VMPL0 NIC (src/shared/spec/seven-nic.ts). Everything in the
 * shared pages is written by the untrusted host: every read of the control page checks
 * magic, version and sizes against the layout; every counter is checked (the producer
 * never runs backwards nor claims more than the ring holds); every record header is parsed
 * strictly (known kind, reserved zero, length within NIC_MAX_RECORD, CLOSE empty). Record
 * bytes are copied out once (no double fetch). The agent's own counters (RX consumer, TX
 * producer) live in its private memory; the page only mirrors them.
 */
import type { Gpa } from "../../shared/base/index.js";
import { DecodeError, readU32, readU64, writeU32, writeU64 } from "../../shared/base/index.js";
import { NIC_CONTROL, NIC_MAGIC, NIC_MAX_RECORD, NIC_RECORD_HEADER, NIC_RECORD_KIND, NIC_VERSION } from "../../shared/spec/index.js";
import type { NicLayout, NicRecordKind } from "../../shared/spec/index.js";

/** Access to the shared (C=0) pages, through the current VMRUN's Cpu. */
export interface SharedMem {
  read(gpa: Gpa, len: number): Uint8Array;
  write(gpa: Gpa, data: Uint8Array): void;
  /** `read` into `dst[offset, offset + len)`. */
  readInto(gpa: Gpa, dst: Uint8Array, offset: number, len: number): void;
  /** `write` of `src[offset, offset + len)`. */
  writeFrom(gpa: Gpa, src: Uint8Array, offset: number, len: number): void;
}

export interface NicRecord {
  readonly conn: number;
  readonly kind: NicRecordKind;
  readonly payload: Uint8Array;
}

export class NicError extends DecodeError {}

const HDR = NIC_RECORD_HEADER.size;
const OFF = {
  rxProd: NIC_CONTROL.offsetOf("rx_prod"),
  rxCons: NIC_CONTROL.offsetOf("rx_cons"),
  txProd: NIC_CONTROL.offsetOf("tx_prod"),
  txCons: NIC_CONTROL.offsetOf("tx_cons"),
  hostFlags: NIC_CONTROL.offsetOf("host_flags"),
  agentFlags: NIC_CONTROL.offsetOf("agent_flags"),
};
/** OPEN carries the peer's address as text; more is not an address. */
export const MAX_OPEN_PAYLOAD = 256;

export class NicDriver {
  readonly nic: NicLayout;
  #rxCons = 0;
  #txProd = 0;
  /** Where the next TX byte goes: ahead of #txProd by the records written and not yet published. */
  #txCursor = 0;
  /** Payload bytes still owed to the TX record whose header was written last. */
  #txOwed = 0;
  /** Scratch buffers: the control page, a record header, a counter (no allocation per record). */
  readonly #ctl = new Uint8Array(NIC_CONTROL.size);
  readonly #hdr = new Uint8Array(HDR);
  readonly #hdrView = new DataView(this.#hdr.buffer);
  readonly #word = new Uint8Array(8);
  /** Counters for introspection. */
  readonly stats = { rxRecords: 0, rxBytes: 0, txRecords: 0, txBytes: 0, errors: 0 };

  constructor(nic: NicLayout) {
    this.nic = nic;
  }

  get rxConsumed(): number {
    return this.#rxCons;
  }

  /**
   * At boot: adopts a control page the host initialised (magic, version, sizes right,
   * counters sane) or writes a fresh one.
   */
  attach(mem: SharedMem): "adopted" | "initialised" {
    try {
      const c = this.#control(mem);
      const rxProd = this.#counter(c, "rxProd");
      const rxCons = this.#counter(c, "rxCons");
      const txProd = this.#counter(c, "txProd");
      const txCons = this.#counter(c, "txCons");
      if (rxCons > rxProd || rxProd - rxCons > this.nic.rxBytes || txCons > txProd || txProd - txCons > this.nic.txBytes) throw new NicError("NIC_BAD_COUNTER", "counters out of range");
      this.#rxCons = rxCons;
      this.#txProd = txProd;
      this.#txCursor = txProd;
      return "adopted";
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.#init(mem);
      return "initialised";
    }
  }

  #init(mem: SharedMem): void {
    this.#rxCons = 0;
    this.#txProd = 0;
    this.#txCursor = 0;
    this.#txOwed = 0;
    mem.write(
      this.nic.control,
      NIC_CONTROL.serialize({
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
      }),
    );
  }

  /**
   * After a protocol violation: drop whatever the host has published (RX consumer := RX
   * producer if that is sane) or start over with a fresh control page.
   */
  recover(mem: SharedMem): void {
    this.stats.errors++;
    try {
      const c = this.#control(mem);
      const rxProd = this.#counter(c, "rxProd");
      const txCons = this.#counter(c, "txCons");
      if (rxProd < this.#rxCons || rxProd - this.#rxCons > this.nic.rxBytes || txCons > this.#txProd) throw new NicError("NIC_BAD_COUNTER", "counters out of range");
      this.#rxCons = rxProd;
      this.#writeCounter(mem, "rxCons", this.#rxCons);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.#init(mem);
    }
  }

  /** The control page, checked (in a scratch buffer: use it before the next call). */
  #control(mem: SharedMem): Uint8Array {
    const c = this.#ctl;
    mem.readInto(this.nic.control, c, 0, NIC_CONTROL.size);
    if (readU32(c, 0) !== NIC_MAGIC || readU32(c, 4) !== NIC_VERSION) throw new NicError("NIC_BAD_CONTROL", "NIC control page: bad magic or version");
    if (readU32(c, 8) !== this.nic.rxBytes || readU32(c, 12) !== this.nic.txBytes) throw new NicError("NIC_BAD_CONTROL", "NIC control page: ring sizes differ from the layout");
    return c;
  }

  #counter(c: Uint8Array, name: keyof typeof OFF): number {
    const v = readU64(c, OFF[name]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NicError("NIC_BAD_COUNTER", `NIC ${name} out of range`, { field: name });
    return Number(v);
  }

  #writeCounter(mem: SharedMem, name: "rxCons" | "txProd", v: number): void {
    writeU64(this.#word, 0, BigInt(v));
    mem.writeFrom((this.nic.control + BigInt(OFF[name])) as Gpa, this.#word, 0, 8);
  }

  /** Ring bytes [at, at + len) (mod size) into `dst` at `offset`. */
  #get(mem: SharedMem, base: Gpa, size: number, at: number, dst: Uint8Array, offset: number, len: number): void {
    const off = at % size;
    const first = Math.min(len, size - off);
    mem.readInto((base + BigInt(off)) as Gpa, dst, offset, first);
    if (first < len) mem.readInto(base, dst, offset + first, len - first);
  }

  /** `src[offset, offset + len)` into the ring at `at` (mod size). */
  #put(mem: SharedMem, base: Gpa, size: number, at: number, src: Uint8Array, offset: number, len: number): void {
    const off = at % size;
    const first = Math.min(len, size - off);
    mem.writeFrom((base + BigInt(off)) as Gpa, src, offset, first);
    if (first < len) mem.writeFrom(base, src, offset + first, len - first);
  }

  /** Bytes the host has published and the agent not consumed (after checks). */
  rxPending(mem: SharedMem): number {
    const prod = this.#counter(this.#control(mem), "rxProd");
    if (prod < this.#rxCons || prod - this.#rxCons > this.nic.rxBytes) throw new NicError("NIC_BAD_COUNTER", "RX producer out of range", { prod, cons: this.#rxCons });
    return prod - this.#rxCons;
  }

  /** The next complete RX record, or undefined. Throws NicError on a protocol violation. */
  nextRx(mem: SharedMem): NicRecord | undefined {
    const fill = this.rxPending(mem);
    if (fill < HDR) return undefined;
    this.#get(mem, this.nic.rx, this.nic.rxBytes, this.#rxCons, this.#hdr, 0, HDR);
    let h;
    try {
      h = NIC_RECORD_HEADER.parse(this.#hdr);
    } catch {
      throw new NicError("NIC_BAD_RECORD", "RX record header has reserved bits set");
    }
    if (h.kind !== NIC_RECORD_KIND.OPEN && h.kind !== NIC_RECORD_KIND.DATA && h.kind !== NIC_RECORD_KIND.CLOSE) {
      throw new NicError("NIC_BAD_RECORD", `RX record of unknown kind ${h.kind}`, { kind: h.kind });
    }
    const max = h.kind === NIC_RECORD_KIND.DATA ? NIC_MAX_RECORD : h.kind === NIC_RECORD_KIND.OPEN ? MAX_OPEN_PAYLOAD : 0;
    if (h.length > max) throw new NicError("NIC_BAD_RECORD", `RX record of ${h.length} bytes (limit ${max})`, { length: h.length });
    if (fill < HDR + h.length) return undefined;
    const payload = new Uint8Array(h.length);
    if (h.length > 0) this.#get(mem, this.nic.rx, this.nic.rxBytes, this.#rxCons + HDR, payload, 0, h.length);
    // Published before it is taken: if the write faults, the record stays unconsumed on both sides.
    this.#writeCounter(mem, "rxCons", this.#rxCons + HDR + h.length);
    this.#rxCons += HDR + h.length;
    this.stats.rxRecords++;
    this.stats.rxBytes += h.length;
    return { conn: h.conn, kind: h.kind as NicRecordKind, payload };
  }

  /** Free bytes in the TX ring (after checking the host's consumer). */
  txFree(mem: SharedMem): number {
    const cons = this.#counter(this.#control(mem), "txCons");
    if (cons > this.#txProd || this.#txProd - cons > this.nic.txBytes) throw new NicError("NIC_BAD_COUNTER", "TX consumer out of range", { cons, prod: this.#txProd });
    return this.nic.txBytes - (this.#txProd - cons);
  }

  /** Unconsumed bytes the host still has to take from the TX ring. */
  txUnconsumed(mem: SharedMem): number {
    return this.nic.txBytes - this.txFree(mem);
  }

  /** Writes one record if it fits (and publishes it); false if the ring is too full. */
  putTx(mem: SharedMem, conn: number, kind: NicRecordKind, payload: Uint8Array, free = this.txFree(mem)): boolean {
    if (payload.length > NIC_MAX_RECORD) throw new RangeError("TX record too large");
    if (HDR + payload.length > free) return false;
    this.txHeader(mem, conn, kind, payload.length);
    if (payload.length > 0) this.txPayload(mem, payload, 0, payload.length);
    this.txPublish(mem);
    return true;
  }

  /**
   * Starts a TX record of `length` payload bytes at the producer: writes its header (from
   * a scratch buffer). The caller has checked the room (`HDR + length` ≤ `txFree`); the
   * payload follows with `txPayload`, and `txPublish` makes the records visible.
   */
  txHeader(mem: SharedMem, conn: number, kind: NicRecordKind, length: number): void {
    if (this.#txOwed !== 0) throw new RangeError("the previous TX record is incomplete");
    if (!Number.isInteger(length) || length < 0 || length > NIC_MAX_RECORD || (kind === NIC_RECORD_KIND.CLOSE && length !== 0)) throw new RangeError("bad TX record length");
    const v = this.#hdrView;
    v.setUint32(0, conn, true);
    v.setUint16(4, kind, true);
    v.setUint16(6, 0, true);
    v.setUint32(8, length, true);
    this.#put(mem, this.nic.tx, this.nic.txBytes, this.#txCursor, this.#hdr, 0, HDR);
    this.#txCursor += HDR;
    this.#txOwed = length;
    this.stats.txRecords++;
  }

  /** Payload bytes `src[offset, offset + len)` of the record begun by `txHeader`, copied once into the ring. */
  txPayload(mem: SharedMem, src: Uint8Array, offset: number, len: number): void {
    if (len > this.#txOwed) throw new RangeError("TX payload longer than its record");
    this.#put(mem, this.nic.tx, this.nic.txBytes, this.#txCursor, src, offset, len);
    this.#txCursor += len;
    this.#txOwed -= len;
    this.stats.txBytes += len;
  }

  /** Publishes every complete record written since the last call (one counter write). */
  txPublish(mem: SharedMem): void {
    if (this.#txOwed !== 0) throw new RangeError("the last TX record is incomplete");
    this.#writeCounter(mem, "txProd", this.#txCursor);
    this.#txProd = this.#txCursor;
  }

  /** Forgets the records written since the last publish (a write into the ring faulted). */
  txAbandon(): void {
    this.#txCursor = this.#txProd;
    this.#txOwed = 0;
  }

  hostFlags(mem: SharedMem): number {
    return readU32(mem.read((this.nic.control + BigInt(OFF.hostFlags)) as Gpa, 4), 0);
  }

  setAgentFlags(mem: SharedMem, flags: number): void {
    writeU32(this.#word, 0, flags >>> 0);
    mem.writeFrom((this.nic.control + BigInt(OFF.agentFlags)) as Gpa, this.#word, 0, 4);
  }
}
