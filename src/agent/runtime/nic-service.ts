/**
 * The NIC's connections: RX records into their TLS sockets (one record per call), their
 * sessions' queued requests (round robin), their ciphertext and CLOSE records into the TX
 * ring, and what the agent should tell the host when it yields. A NIC protocol violation
 * by the host drops every connection and resynchronises the rings (nic.ts `recover`).
 */
import { isSevenError } from "../../shared/base/index.js";
import { NIC_AGENT_FLAGS, NIC_MAX_CONNS, NIC_MAX_RECORD, NIC_RECORD_KIND } from "../../shared/spec/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Cpu } from "../../platform/index.js";
import { NicConnection } from "./connection.js";
import type { ConnectionContext } from "./connection.js";
import { NicDriver, NicError } from "./nic.js";
import type { SharedMem } from "./nic.js";

const HDR = 12;

/** Shared (C=0) memory through the current VMRUN's Cpu. */
export function shared(cpu: Cpu): SharedMem {
  return {
    read: (gpa, len) => cpu.readPhys(gpa, len, SHARED),
    write: (gpa, data) => cpu.writePhys(gpa, data, SHARED),
    readInto: (gpa, dst, offset, len) => cpu.readPhysInto(gpa, dst, offset, len, SHARED),
    writeFrom: (gpa, src, offset, len) => cpu.writePhysFrom(gpa, src, offset, len, SHARED),
  };
}

const SHARED = { shared: true } as const;
/** Most ciphertext one TX step writes into the ring (several records, one producer update). */
export const TX_STEP_BYTES = 1 << 20;
/**
 * Reply bytes one session writes per agent run, counting its ciphertext not yet in the TX
 * ring: once reached, its next request waits for the next run (the host relays in
 * between) or, while the ring is full, for TX space. Keeps runs short while a large read
 * streams, so that the host feeds the client's socket between them.
 */
export const RUN_REPLY_BYTES = 2 << 20;

export class NicService {
  readonly driver: NicDriver;
  readonly #conns = new Map<number, NicConnection>();
  readonly #note: (what: string) => void;
  #ctx: ConnectionContext | undefined;
  #rr = 0;
  #txRr = 0;

  constructor(driver: NicDriver, note: (what: string) => void) {
    this.driver = driver;
    this.#note = note;
  }

  /** Connections open from now on use this context (set once the agent has booted). */
  setContext(ctx: ConnectionContext): void {
    this.#ctx = ctx;
  }

  get connections(): readonly NicConnection[] {
    return [...this.#conns.values()];
  }

  /** One RX record; false when there is none (or the NIC had to be reset). */
  rxStep(cpu: Cpu): boolean {
    if (this.#ctx === undefined) return false;
    const mem = shared(cpu);
    let rec;
    try {
      rec = this.driver.nextRx(mem);
    } catch (e) {
      if (!(e instanceof NicError)) throw e;
      this.fault(mem);
      return false;
    }
    if (rec === undefined) return false;
    const c = this.#conns.get(rec.conn);
    switch (rec.kind) {
      case NIC_RECORD_KIND.OPEN: {
        if (c !== undefined || this.#conns.size >= 2 * NIC_MAX_CONNS) {
          this.#note("nic-bad-open");
          c?.close();
          return true;
        }
        const conn = new NicConnection(rec.conn, this.#ctx);
        this.#conns.set(rec.conn, conn);
        if (this.#conns.size > NIC_MAX_CONNS) conn.close();
        return true;
      }
      case NIC_RECORD_KIND.DATA:
        if (c === undefined) this.#note("nic-data-unknown-conn");
        else c.feed(rec.payload);
        return true;
      default:
        if (c !== undefined) {
          c.hostClose();
          if (c.closeSent) this.#drop(c);
        }
        return true;
    }
  }

  /** One request of one session (round robin); false when no session has work. */
  workStep(): boolean {
    const conns = [...this.#conns.values()];
    for (let k = 0; k < conns.length; k++) {
      const c = conns[(this.#rr + k) % conns.length]!;
      if (this.#ready(c)) {
        this.#rr = (this.#rr + k + 1) % Math.max(1, conns.length);
        try {
          c.session!.step();
        } catch (e) {
          if (e instanceof CpuFault) throw e;
          if (!isSevenError(e)) this.#note("session-internal-error");
          c.close();
        }
        this.#reapOne(c);
        return true;
      }
    }
    return false;
  }

  /** Whether connection `c` may handle a request now (see RUN_REPLY_BYTES). */
  #ready(c: NicConnection): boolean {
    return c.serviceable && c.session!.hasWork && c.txBytes + c.unflushed < RUN_REPLY_BYTES;
  }

  /**
   * Ciphertext and CLOSE records into the TX ring: up to TX_STEP_BYTES, records of up to
   * NIC_MAX_RECORD gathered from the connection's TLS output with no copy but the one into
   * the ring, published with one producer update. Connections take turns. True when it
   * stopped at its byte budget (another step may write more); false when nothing more can
   * be written now.
   */
  txStep(cpu: Cpu): boolean {
    const mem = shared(cpu);
    let free: number;
    try {
      free = this.driver.txFree(mem);
    } catch (e) {
      if (!(e instanceof NicError)) throw e;
      this.fault(mem);
      return false;
    }
    const conns = [...this.#conns.values()];
    const sink = (src: Uint8Array, offset: number, len: number): void => this.driver.txPayload(mem, src, offset, len);
    const drained: NicConnection[] = [];
    const closed: NicConnection[] = [];
    let wrote = 0;
    try {
      for (let k = 0; k < conns.length && free > HDR && wrote < TX_STEP_BYTES; k++) {
        const c = conns[(this.#txRr + k) % conns.length]!;
        while (c.txBytes > 0 && free > HDR && wrote < TX_STEP_BYTES) {
          const n = Math.min(NIC_MAX_RECORD, free - HDR, c.txBytes);
          if (drained.at(-1) !== c) drained.push(c);
          this.driver.txHeader(mem, c.id, NIC_RECORD_KIND.DATA, n);
          c.drainTx(n, sink);
          free -= HDR + n;
          wrote += HDR + n;
        }
        if (c.wantsClose && free >= HDR) {
          this.driver.txHeader(mem, c.id, NIC_RECORD_KIND.CLOSE, 0);
          free -= HDR;
          wrote += HDR;
          c.closeSent = true;
          closed.push(c);
        }
      }
      if (wrote > 0) this.driver.txPublish(mem);
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      // The ring refused a write (the host took its pages away): nothing of this step is
      // published, and the streams whose ciphertext was taken cannot go on.
      this.driver.txAbandon();
      this.#note("nic-tx-fault");
      for (const c of closed) c.closeSent = false;
      for (const c of drained) c.close();
      throw e;
    }
    for (const c of closed) if (c.hostClosed) this.#drop(c);
    if (conns.length > 0) this.#txRr = (this.#txRr + 1) % conns.length;
    return wrote >= TX_STEP_BYTES && free > HDR;
  }

  /** Periodic duties of the sessions; the earliest next due time. */
  tick(nowNs: bigint): bigint | undefined {
    let due: bigint | undefined;
    for (const c of this.#conns.values()) {
      let t: bigint | undefined;
      try {
        t = c.session !== undefined && !c.session.closed && !c.needsReap ? c.session.tick(nowNs) : undefined;
      } catch (e) {
        if (e instanceof CpuFault) throw e;
        this.#note("session-internal-error");
        c.close();
        this.#reapOne(c);
      }
      if (t !== undefined && (due === undefined || t < due)) due = t;
      // What the sessions wrote in this run goes to TLS now, before the TX phase.
      c.flushTls();
    }
    return due;
  }

  /**
   * Before yielding: whether the agent needs to run again soon (requests queued, RX bytes
   * waiting, TLS output or a close still under way) and whether the host has TX bytes to
   * take. Mirrored into AGENT_FLAGS for the host's scheduler.
   */
  yieldState(cpu: Cpu): { more: boolean; txPending: boolean } {
    const mem = shared(cpu);
    let more = false;
    let txPending = false;
    for (const c of this.#conns.values()) {
      if (this.#ready(c) || c.closing || c.tlsBusy || c.needsReap) more = true;
      if (c.takeHandshakeActivity()) more = true;
      if (c.txBytes > 0 || c.wantsClose) txPending = true;
    }
    try {
      if (this.driver.rxPending(mem) > 0) more = true;
      if (this.driver.txUnconsumed(mem) > 0) txPending = true;
      this.driver.setAgentFlags(mem, (txPending ? NIC_AGENT_FLAGS.TX_PENDING : 0) | (more ? NIC_AGENT_FLAGS.WANT_RUN : 0));
    } catch (e) {
      if (!(e instanceof NicError)) throw e;
      this.fault(mem);
      more = true;
    }
    return { more, txPending };
  }

  /**
   * Ends the sessions of connections that are closing or whose session gave up (queued by
   * TLS callbacks, which must not touch the machine): runs while the agent runs.
   */
  reap(): void {
    for (const c of this.#conns.values()) this.#reapOne(c);
  }

  /** An error while releasing one session ends that session only (counted), never the agent. */
  #reapOne(c: NicConnection): void {
    if (!c.needsReap) return;
    try {
      c.reap();
    } catch (e) {
      if (e instanceof CpuFault) throw e;
      this.#note("session-end-failed");
    }
  }

  /** Forgets a finished connection (its session ended first). */
  #drop(c: NicConnection): void {
    this.#reapOne(c);
    this.#conns.delete(c.id);
  }

  /** A NIC protocol violation: every connection is dropped and the rings resynchronised. */
  fault(mem: SharedMem): void {
    this.#note("nic-fault");
    for (const c of [...this.#conns.values()]) {
      c.hostClose();
      this.#drop(c);
    }
    this.driver.recover(mem);
  }
}
