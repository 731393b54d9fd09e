/**
 * The host side of the VMPL0 NIC: a real TCP listener whose connections' bytes are moved
 * into the RX ring and out of the TX ring (src/shared/spec/seven-nic.ts) as OPEN / DATA /
 * CLOSE records — framed, never parsed: the payload is TLS the host cannot read.
 *
 * Flow control: what does not fit in the RX ring waits in the connection's queue and the
 * socket stops being read until the queue has drained into the ring. TX is drained on every
 * scheduler round; a socket whose write buffer is over its high-water mark stops the
 * draining (the record stays in the ring, so the agent sees a full ring) until it drains.
 *
 * Copies and system calls: a drain copies the published records a window at a time (one
 * read for many small records, one per largest record) and hands the sockets views of that
 * copy, reading no further than the sockets take. What the
 * drains of one synchronous stretch of scheduling (a round) send to a connection stays
 * corked until `flush()` (the scheduler calls it before a long guest slice) or, at the
 * latest, the microtask after that stretch: one writev per connection, and one more per
 * TX_COALESCE_BYTES. One fill of the RX ring is staged in a reused buffer and written with
 * one host write (two at the ring's end), headers included. The adversary stages still see
 * one item per record.
 *
 * Connection ids: the lowest id ≥ 1 not in use; an id is in use from OPEN until both sides
 * have sent CLOSE (the host replies CLOSE to the agent's CLOSE), so an id is never reused
 * while the other side may still send records for the old connection.
 */
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { DecodeError } from "../../shared/base/index.js";
import { NIC_AGENT_FLAGS, NIC_HOST_FLAGS, NIC_MAX_CONNS, NIC_MAX_RECORD, NIC_RECORD_KIND } from "../../shared/spec/index.js";
import type { NicLayout, NicRecordKind } from "../../shared/spec/index.js";
import type { RelayAdversary, RelayItem, Stage } from "../adversary/stream.js";
import { HostError } from "../errors.js";
import type { Counters, HostLog } from "../observe.js";
import { NicRings, RECORD_HEADER_SIZE, checkCounters, decodeRecordHeaderAt, writeRecordHeader } from "./ring.js";
import type { SharedMemory } from "./ring.js";

/** Bytes queued for the RX ring per connection before its socket is paused. */
export const RX_QUEUE_HIGH_WATER = 256 * 1024;
/** Socket write-buffer size above which TX draining waits for 'drain'. */
export const TX_SOCKET_HIGH_WATER = 1 << 20;
/** Corked bytes of one connection after which a drain flushes them (one writev each). */
export const TX_COALESCE_BYTES = 256 * 1024;
/** Bytes of the TX ring copied per read while draining (one largest record with its header). */
const TX_READ_WINDOW = NIC_MAX_RECORD + RECORD_HEADER_SIZE;

interface QueuedRecord {
  kind: NicRecordKind;
  payload: Uint8Array;
}

interface Conn {
  readonly id: number;
  /** Accept order (from 1); what adversary targets count. */
  readonly index: number;
  socket: Socket | undefined;
  readonly queue: QueuedRecord[];
  queued: number;
  /** Our CLOSE record is in the RX ring. */
  hostCloseSent: boolean;
  /** CLOSE was queued (possibly still in the adversary's delay line). */
  hostCloseQueued: boolean;
  agentClosed: boolean;
  rx: Stage;
  tx: Stage;
}

export interface NicRelayOptions {
  readonly mem: SharedMemory;
  readonly nic: NicLayout;
  readonly adversary: RelayAdversary;
  readonly counters: Counters;
  readonly log: HostLog;
  /** Called when there is new work for the scheduler (socket data, drain, close). */
  readonly onActivity: () => void;
  readonly maxConnections?: number;
}

export class NicRelay {
  readonly rings: NicRings;
  readonly #o: NicRelayOptions;
  readonly #conns = new Map<number, Conn>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #accepted = 0;
  #rxProd = 0;
  #rxConsSeen = 0;
  #txCons = 0;
  #txProdSeen = 0;
  /** TX bytes consumed since the agent last ran (TX_SPACE hint). */
  #txFreed = false;
  #txBlocked = false;
  #draining = false;
  /** Sockets corked since the last flush, with the bytes not flushed yet. */
  #corked: Map<Socket, number> | undefined;
  /** Reused staging buffer of one RX fill (headers and payloads as they go into the ring). */
  #rxStage: Uint8Array | undefined;
  /** Bumped whenever bytes move in either direction (socket data, RX records, TX records). */
  #activity = 0;
  #rr = 0;
  #closed = false;

  constructor(o: NicRelayOptions) {
    this.#o = o;
    this.rings = new NicRings(o.mem, o.nic);
  }

  /** Writes a fresh control page; call once before the agent boots. */
  init(): void {
    this.rings.initControl();
  }

  get endpoint(): { host: string; port: number } | undefined {
    const a = this.#server?.address();
    if (a === null || a === undefined || typeof a === "string") return undefined;
    return { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
  }

  /** Opens the TCP listener. Throws HostError LISTEN_FAILED (details.errno) on failure. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (this.#server !== undefined) throw new HostError("BAD_STATE", "the NIC is already listening");
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.#accept(s));
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        const why = e.code === "EADDRINUSE" ? "address already in use" : e.message;
        reject(new HostError("LISTEN_FAILED", `cannot listen on ${host}:${port}: ${why}`, { host, port, errno: e.code }, { cause: e }));
      };
      server.once("error", onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", (e) => this.#o.log.event("nic.listener-error", e.message));
    this.#server = server;
    return this.endpoint!;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Live TCP connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Changes whenever bytes moved either way (the scheduler keeps slices short while it does). */
  get activity(): number {
    return this.#activity;
  }

  /**
   * Whether relayed bytes are on their way: records queued for the RX ring, RX bytes the
   * agent has not consumed, TX bytes the host has not drained, or the agent's TX_PENDING.
   */
  inFlight(): boolean {
    if (this.#rxProd !== this.#rxConsSeen || this.#txBlocked) return true;
    for (const c of this.#conns.values()) if (c.queue.length > 0) return true;
    if (this.#txProdSeen !== this.#txCons) return true;
    return (this.#agentFlags() & NIC_AGENT_FLAGS.TX_PENDING) !== 0;
  }

  // ------------------------------------------------------------------ scheduler side

  /** Moves queued records into the RX ring and drains the TX ring to the sockets. */
  pump(): void {
    this.#fillRx();
    this.#drainTx();
  }

  /**
   * Whether the agent has NIC work: RX data it has not consumed (new or left over), freed
   * TX space it waits for, or WANT_RUN.
   */
  agentWork(): boolean {
    if (this.#rxProd !== this.#rxConsSeen) return true;
    const flags = this.#agentFlags();
    if ((flags & NIC_AGENT_FLAGS.WANT_RUN) !== 0) return true;
    return this.#txFreed && (flags & NIC_AGENT_FLAGS.TX_PENDING) !== 0;
  }

  /** Sets HOST_FLAGS before VMPL0 runs on the NIC's vCPU. `spurious` sets RX_PENDING regardless (injected interrupt). */
  beforeAgentRun(spurious = false): void {
    let flags = 0;
    if (spurious || this.#rxProd !== this.#rxConsSeen) flags |= NIC_HOST_FLAGS.RX_PENDING;
    if (this.#txFreed) flags |= NIC_HOST_FLAGS.TX_SPACE;
    this.rings.setFlags("host", flags);
  }

  afterAgentRun(): void {
    this.#txFreed = false;
    this.pump();
  }

  /** Hands what the drains corked to the kernel: one writev per connection. */
  flush(): void {
    const corked = this.#corked;
    if (corked === undefined) return;
    this.#corked = undefined;
    for (const [s, pending] of corked) {
      s.uncork();
      if (pending > 0) this.#o.counters.inc("nic.tx.socket-writes");
    }
  }

  /** Opens a connection towards the agent that no TCP client made (session replay). */
  injectSession(payloads: readonly Uint8Array[], peer = "replayed-session"): number {
    const c = this.#newConn(undefined);
    this.#enqueue(c, NIC_RECORD_KIND.OPEN, new TextEncoder().encode(peer));
    for (const p of payloads) this.#enqueue(c, NIC_RECORD_KIND.DATA, p);
    this.#o.counters.inc("adversary.replay-session");
    this.#o.log.event("adversary.replay", `replayed a recorded session (${payloads.length} records) as connection id ${c.id}`, { conn: c.id, records: payloads.length });
    this.#o.onActivity();
    return c.id;
  }

  // ------------------------------------------------------------------ connections

  #accept(socket: Socket): void {
    const max = this.#o.maxConnections ?? NIC_MAX_CONNS;
    if (this.#closed || this.#sockets.size >= max) {
      this.#o.counters.inc("nic.refused");
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const c = this.#newConn(socket);
    this.#o.counters.inc("nic.accepted");
    const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.#enqueue(c, NIC_RECORD_KIND.OPEN, new TextEncoder().encode(peer));
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      c.rx({ kind: "close" });
    };
    socket.on("data", (chunk: Buffer) => {
      if (c.agentClosed) {
        this.#o.counters.inc("nic.rx.discarded", chunk.length);
        return;
      }
      this.#o.counters.inc("nic.rx.socket-bytes", chunk.length);
      this.#activity++;
      // Views: the socket hands over a fresh buffer per read, and nothing writes into it.
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let o = 0; o < bytes.length; o += NIC_MAX_RECORD) c.rx({ kind: "data", payload: bytes.subarray(o, o + NIC_MAX_RECORD) });
      // Into the ring now if it has room (one write for the chunk): the agent finds the bytes
      // there when it next runs, and the socket is paused only once the ring is full too.
      if (!this.#closed) this.#fillRx();
      if (c.queued > RX_QUEUE_HIGH_WATER && !socket.isPaused()) {
        socket.pause();
        this.#o.counters.inc("nic.rx.socket-paused");
      }
      this.#o.onActivity();
    });
    socket.on("end", end);
    socket.on("error", (e) => this.#o.log.event("nic.socket-error", `connection ${c.id}: ${e.message}`, { conn: c.id }));
    socket.on("drain", () => {
      if (this.#txBlocked) {
        this.#txBlocked = false;
        this.#o.onActivity();
      }
    });
    socket.on("close", () => {
      this.#sockets.delete(socket);
      c.socket = undefined;
      end();
      this.#o.onActivity();
    });
  }

  #newConn(socket: Socket | undefined): Conn {
    let id = 1;
    while (this.#conns.has(id)) id++;
    const index = ++this.#accepted;
    const c: Conn = {
      id,
      index,
      socket,
      queue: [],
      queued: 0,
      hostCloseSent: false,
      hostCloseQueued: false,
      agentClosed: false,
      rx: () => undefined,
      tx: () => undefined,
    };
    c.rx = this.#o.adversary.stage(index, "rx", (item) => this.#fromClient(c, item));
    c.tx = this.#o.adversary.stage(index, "tx", (item) => this.#toClient(c, item));
    this.#conns.set(id, c);
    return c;
  }

  #fromClient(c: Conn, item: RelayItem): void {
    if (item.kind === "close") {
      if (c.hostCloseQueued) return;
      c.hostCloseQueued = true;
      this.#enqueue(c, NIC_RECORD_KIND.CLOSE, new Uint8Array(0));
      const session = this.#o.adversary.takeSession();
      if (session !== undefined) this.injectSession(session);
    } else if (!c.hostCloseQueued) {
      this.#enqueue(c, NIC_RECORD_KIND.DATA, item.payload);
    }
    this.#o.onActivity();
  }

  #toClient(c: Conn, item: RelayItem): void {
    const s = c.socket;
    if (item.kind === "close") {
      s?.end();
      return;
    }
    if (s === undefined || s.destroyed || s.writableEnded) {
      this.#o.counters.inc("nic.tx.discarded", item.payload.length);
      return;
    }
    if (!this.#draining) {
      // Outside a drain (a delayed item): on its own.
      s.write(item.payload);
      this.#o.counters.inc("nic.tx.socket-writes");
      return;
    }
    let corked = this.#corked;
    if (corked === undefined) {
      corked = this.#corked = new Map();
      queueMicrotask(() => this.flush());
    }
    let pending = corked.get(s);
    if (pending === undefined) {
      s.cork();
      pending = 0;
    }
    s.write(item.payload);
    pending += item.payload.length;
    if (pending >= TX_COALESCE_BYTES) {
      s.uncork();
      s.cork();
      pending = 0;
      this.#o.counters.inc("nic.tx.socket-writes");
    }
    corked.set(s, pending);
  }

  /** What a socket has not handed to the kernel, less what is corked since the last flush. */
  #backlog(s: Socket): number {
    return s.writableLength - (this.#corked?.get(s) ?? 0);
  }

  #enqueue(c: Conn, kind: NicRecordKind, payload: Uint8Array): void {
    c.queue.push({ kind, payload });
    c.queued += payload.length;
  }

  #free(c: Conn): void {
    if (c.hostCloseSent && c.agentClosed) {
      this.#conns.delete(c.id);
      this.#o.counters.inc("nic.closed");
    }
  }

  // ------------------------------------------------------------------ rings

  #agentFlags(): number {
    return this.rings.flags("agent");
  }

  #readRxCons(): number {
    try {
      const cons = this.rings.counter("rxCons");
      checkCounters(this.#rxProd, cons, this.rings.size("rx"), { prod: this.#rxProd, cons: this.#rxConsSeen });
      this.#rxConsSeen = cons;
    } catch (e) {
      this.#protocolError("RX consumer", e);
    }
    return this.#rxConsSeen;
  }

  #fillRx(): void {
    const size = this.rings.size("rx");
    const cons = this.#readRxCons();
    let free = size - (this.#rxProd - cons);
    const live = [...this.#conns.values()].filter((c) => c.queue.length > 0);
    if (live.length === 0) return;
    const stage = (this.#rxStage ??= new Uint8Array(size));
    let n = 0;
    let progressed = true;
    while (progressed && free > RECORD_HEADER_SIZE) {
      progressed = false;
      for (let k = 0; k < live.length; k++) {
        const c = live[(this.#rr + k) % live.length]!;
        const head = c.queue[0];
        if (head === undefined) continue;
        const room = free - RECORD_HEADER_SIZE;
        if (room < 0 || (head.kind !== NIC_RECORD_KIND.DATA && head.payload.length > room) || room === 0) continue;
        const len = Math.min(head.payload.length, room);
        writeRecordHeader(stage, n, { conn: c.id, kind: head.kind, length: len });
        stage.set(head.payload.subarray(0, len), n + RECORD_HEADER_SIZE);
        n += RECORD_HEADER_SIZE + len;
        free -= RECORD_HEADER_SIZE + len;
        c.queued -= len;
        this.#o.counters.inc("nic.rx.records");
        if (head.kind === NIC_RECORD_KIND.DATA) this.#o.counters.inc("nic.rx.bytes", len);
        if (len === head.payload.length) {
          c.queue.shift();
          if (head.kind === NIC_RECORD_KIND.CLOSE) {
            c.hostCloseSent = true;
            this.#free(c);
          }
        } else {
          head.payload = head.payload.subarray(len);
        }
        progressed = true;
      }
      this.#rr++;
    }
    if (n > 0) {
      // One write of the whole fill (two where it wraps), then the producer.
      this.rings.put("rx", this.#rxProd, stage.subarray(0, n));
      this.#rxProd += n;
      this.rings.setCounter("rxProd", this.#rxProd);
      this.#activity++;
    }
    if (live.some((c) => c.queue.length > 0)) this.#o.counters.inc("nic.rx.backlog-rounds");
    for (const c of live) {
      if (c.socket !== undefined && c.socket.isPaused() && c.queued <= RX_QUEUE_HIGH_WATER / 2) c.socket.resume();
    }
  }

  #drainTx(): void {
    if (this.#txBlocked) return;
    const size = this.rings.size("tx");
    let prod: number;
    try {
      prod = this.rings.counter("txProd");
      checkCounters(prod, this.#txCons, size, { prod: this.#txProdSeen, cons: this.#txCons });
    } catch (e) {
      this.#protocolError("TX producer", e);
      return;
    }
    this.#txProdSeen = prod;
    const start = this.#txCons;
    const avail = prod - start;
    if (avail < RECORD_HEADER_SIZE) return;
    // The published bytes are copied a window at a time (many small records in one read, a
    // largest record in one read of its own); headers are parsed from the copy (no second
    // fetch of what the agent may still change) and payloads are views of it.
    let win: Uint8Array = new Uint8Array(0);
    let winAt = 0;
    let rereadAt = -1;
    this.#draining = true;
    try {
      let off = 0;
      while (avail - off >= RECORD_HEADER_SIZE) {
        if (off + RECORD_HEADER_SIZE > winAt + win.length) {
          win = this.rings.get("tx", start + off, Math.min(avail - off, TX_READ_WINDOW));
          winAt = off;
        }
        let h;
        try {
          h = decodeRecordHeaderAt(win, off - winAt);
        } catch (e) {
          // Nothing after a bad header can be framed: skip what the agent has published.
          this.#protocolError("TX record", e);
          this.#txCons = prod;
          break;
        }
        if (avail - off < RECORD_HEADER_SIZE + h.length) break; // partial record: wait
        if (off + RECORD_HEADER_SIZE + h.length > winAt + win.length) {
          // The record goes past this window: a new one from its header (decoded again from it).
          if (rereadAt === off) {
            this.#protocolError("TX record", new DecodeError("NIC_BAD_RECORD", "a TX record header changed while it was read", { conn: h.conn }));
            this.#txCons = prod;
            break;
          }
          rereadAt = off;
          win = this.rings.get("tx", start + off, Math.min(avail - off, Math.max(TX_READ_WINDOW, RECORD_HEADER_SIZE + h.length)));
          winAt = off;
          continue;
        }
        const c = this.#conns.get(h.conn);
        if (h.kind === NIC_RECORD_KIND.DATA && c?.socket !== undefined && this.#backlog(c.socket) > TX_SOCKET_HIGH_WATER) {
          this.#txBlocked = true;
          this.#o.counters.inc("nic.tx.socket-blocked");
          break;
        }
        const at = off - winAt + RECORD_HEADER_SIZE;
        const payload = win.subarray(at, at + h.length);
        off += RECORD_HEADER_SIZE + h.length;
        this.#txCons += RECORD_HEADER_SIZE + h.length;
        this.#o.counters.inc("nic.tx.records");
        if (c === undefined || c.agentClosed) {
          this.#o.counters.inc("nic.tx.unknown-conn");
          continue;
        }
        if (h.kind === NIC_RECORD_KIND.DATA) {
          this.#o.counters.inc("nic.tx.bytes", payload.length);
          c.tx({ kind: "data", payload });
        } else if (h.kind === NIC_RECORD_KIND.CLOSE) {
          c.agentClosed = true;
          c.tx({ kind: "close" });
          if (!c.hostCloseQueued) {
            c.hostCloseQueued = true;
            this.#enqueue(c, NIC_RECORD_KIND.CLOSE, new Uint8Array(0));
          }
          this.#free(c);
        } else {
          this.#protocolError("TX record", new DecodeError("NIC_BAD_RECORD", "the agent sent OPEN", { conn: h.conn }));
        }
      }
    } finally {
      this.#draining = false;
    }
    if (this.#txCons !== start) {
      this.rings.setCounter("txCons", this.#txCons);
      this.#txFreed = true;
      this.#activity++;
    }
  }

  #protocolError(what: string, e: unknown): void {
    this.#o.counters.inc("nic.protocol-errors");
    if (this.#o.counters.get("nic.protocol-errors") <= 10) {
      this.#o.log.event("nic.protocol-error", `${what}: ${e instanceof Error ? e.message : String(e)}`, { what });
    }
  }
}
