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
    read: (gpa, len) => cpu.readPhys(gpa, len, { shared: true }),
    write: (gpa, data) => cpu.writePhys(gpa, data, { shared: true }),
  };
}

export class NicService {
  readonly driver: NicDriver;
  readonly #conns = new Map<number, NicConnection>();
  readonly #note: (what: string) => void;
  #ctx: ConnectionContext | undefined;
  #rr = 0;

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
          if (c.closeSent) this.#conns.delete(c.id);
        }
        return true;
    }
  }

  /** One request of one session (round robin); false when no session has work. */
  workStep(): boolean {
    const conns = [...this.#conns.values()];
    for (let k = 0; k < conns.length; k++) {
      const c = conns[(this.#rr + k) % conns.length]!;
      if (c.serviceable && c.session!.hasWork) {
        this.#rr = (this.#rr + k + 1) % Math.max(1, conns.length);
        try {
          c.session!.step();
        } catch (e) {
          if (e instanceof CpuFault) throw e;
          if (!isSevenError(e)) this.#note("session-internal-error");
          c.close();
        }
        return true;
      }
    }
    return false;
  }

  /** One TX record; false when nothing more can be written now. */
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
    for (const c of this.#conns.values()) {
      if (c.txBytes > 0) {
        if (free <= HDR) return false;
        const chunk = c.takeTx(Math.min(NIC_MAX_RECORD, free - HDR))!;
        this.driver.putTx(mem, c.id, NIC_RECORD_KIND.DATA, chunk, free);
        return true;
      }
      if (c.wantsClose) {
        if (free < HDR) return false;
        this.driver.putTx(mem, c.id, NIC_RECORD_KIND.CLOSE, new Uint8Array(0), free);
        c.closeSent = true;
        if (c.hostClosed) this.#conns.delete(c.id);
        return true;
      }
    }
    return false;
  }

  /** Periodic duties of the sessions; the earliest next due time. */
  tick(nowNs: bigint): bigint | undefined {
    let due: bigint | undefined;
    for (const c of this.#conns.values()) {
      const t = c.session?.tick(nowNs);
      if (t !== undefined && (due === undefined || t < due)) due = t;
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
      if ((c.serviceable && c.session!.hasWork) || c.closing || c.tlsBusy) more = true;
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

  /** A NIC protocol violation: every connection is dropped and the rings resynchronised. */
  fault(mem: SharedMem): void {
    this.#note("nic-fault");
    for (const c of this.#conns.values()) c.hostClose();
    this.#conns.clear();
    this.driver.recover(mem);
  }
}
