/**
 * One NIC connection: a TLS 1.3 server socket (node:tls) over a Duplex whose input is the
 * connection's RX records and whose output is collected for the TX ring. The socket comes
 * from a (never listening) tls.Server the Duplex is handed to, so that handshake failures
 * and record errors are reported as such. Node processes TLS synchronously when bytes are
 * pushed, so the handshake and decryption happen while the agent runs; requests are
 * handled only from the agent's service loop.
 *
 * TLS and socket callbacks never touch the machine and never throw: they feed bytes to
 * the session (which only queues them), or mark the connection for ending. The session's
 * resources in the core (traps, held vCPUs, its pause) are released by `reap`, which the
 * NIC service calls while the agent runs at VMPL0.
 *
 * The session is chosen on the one endpoint (ALPN):
 *  - "seven/1" → v1, only if the client certificate's public key equals the measured owner
 *    key (SPKI DER compared byte for byte);
 *  - no ALPN → the prototype's v0, only if the measured configuration allows it;
 *  - anything else → closed.
 */
import { Duplex } from "node:stream";
import { createServer } from "node:tls";
import type { TLSSocket } from "node:tls";
import { bytesEqual } from "../../shared/base/index.js";
import { ALPN_V1 } from "../../shared/protocol/index.js";
import type { AgentConfig } from "../config.js";
import type { VmiCore } from "../service/core.js";
import { V0Session } from "../service/session-v0.js";
import { V1Session } from "../service/session-v1.js";
import type { Session, SessionTransport } from "../service/session.js";

export interface ConnectionContext {
  /** The agent's TLS key and certificate (PEM). */
  readonly tls: { readonly keyPem: string; readonly certPem: string };
  readonly config: AgentConfig;
  readonly core: VmiCore;
  readonly serverSpki: Uint8Array;
  readonly heartbeatIntervalNs: bigint;
  readonly note: (what: ConnectionNote, conn: number) => void;
}

export type ConnectionNote = "v1-open" | "v0-open" | "refused-not-owner" | "refused-v0-disabled" | "refused-alpn" | "tls-error" | "session-fatal";

/** Ciphertext the agent buffers per connection before it stops serving that session. */
export const TX_BACKLOG_LIMIT = 8 << 20;

export class NicConnection {
  readonly id: number;
  readonly #ctx: ConnectionContext;
  readonly #wire: Duplex;
  #tls: TLSSocket | undefined;
  readonly #tx: Uint8Array[] = [];
  #txBytes = 0;
  #session: Session | undefined;
  /** Our side is finished (TLS closed or refused): send CLOSE once the TX backlog is out. */
  #localDone = false;
  /** close() was called; the TLS layer may still be flushing. */
  #closeRequested = false;
  /** The session must be ended (its core resources released) at the next VMPL0 run. */
  #endPending = false;
  /** `reap` has ended the session. */
  #reaped = false;
  /** The host closed the connection (its CLOSE record). */
  hostClosed = false;
  /** Our CLOSE record has been written to the TX ring. */
  closeSent = false;
  /** Plaintext written to the (corked) TLS socket since the last `flushTls`. */
  #corked = 0;

  constructor(id: number, ctx: ConnectionContext) {
    this.id = id;
    this.#ctx = ctx;
    this.#wire = new Duplex({
      read() {},
      // node hands the TLS layer's output over in fresh buffers (js_stream_socket copies
      // each one out of the TLS engine), so they are kept as they are until the TX ring.
      write: (chunk: Buffer, _enc, cb) => {
        if (chunk.length > 0) {
          this.#tx.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          this.#txBytes += chunk.length;
        }
        cb();
      },
      final: (cb) => {
        this.#finish();
        cb();
      },
    });
    this.#wire.on("error", () => this.#guard(() => this.#finish()));
    const server = createServer({
      key: ctx.tls.keyPem,
      cert: ctx.tls.certPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_V1],
    });
    server.on("secureConnection", (t: TLSSocket) => {
      this.#tls = t;
      t.on("data", (d: Buffer) => this.#guard(() => this.#session?.accept(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))));
      t.on("error", () =>
        this.#guard(() => {
          this.#ctx.note("tls-error", this.id);
          this.#teardown();
        }),
      );
      t.on("close", () => this.#guard(() => this.#teardown()));
      t.on("end", () => this.#guard(() => t.end()));
      this.#guard(() => this.#onSecure(t));
    });
    server.on("tlsClientError", () =>
      this.#guard(() => {
        this.#ctx.note("tls-error", this.id);
        this.#teardown();
      }),
    );
    server.emit("connection", this.#wire);
  }

  get session(): Session | undefined {
    return this.#session;
  }

  get txBytes(): number {
    return this.#txBytes;
  }

  /** Whether the session may handle requests now (not ending, not throttled by an unsent backlog). */
  get serviceable(): boolean {
    return this.#session !== undefined && !this.#session.closed && !this.#endPending && this.#txBytes < TX_BACKLOG_LIMIT;
  }

  /** Whether `reap` has a session to end. */
  get needsReap(): boolean {
    return this.#session !== undefined && !this.#reaped && (this.#endPending || this.#session.closed);
  }

  /**
   * Ends the session if the connection is ending or the session gave up: releases what
   * it holds in the core (machine access — only while the agent runs). Idempotent.
   */
  reap(): void {
    if (!this.needsReap) return;
    this.#reaped = true;
    this.#session!.end();
  }

  /**
   * TLS output still on its way to the wire: node completes a socket write asynchronously
   * and queues the next one behind it, so ciphertext may appear after this run.
   */
  get tlsBusy(): boolean {
    const t = this.#tls;
    return t !== undefined && !t.destroyed && t.writableLength > 0;
  }

  /**
   * Plaintext the session wrote since the last `flushTls`, held by the corked socket:
   * what one agent run answers is encrypted together, in that run (one write to the TLS
   * layer, whose next write could only start after the event loop has turned).
   */
  get unflushed(): number {
    return this.#corked;
  }

  /** Hands what the session wrote since the last call to TLS (one write of all of it). */
  flushTls(): void {
    if (this.#corked === 0) return;
    this.#corked = 0;
    const t = this.#tls;
    if (t !== undefined && !t.destroyed) t.uncork();
  }

  /** Closing, but the TLS layer has not finished yet (another run will be needed). */
  get closing(): boolean {
    return this.#closeRequested && !this.#localDone && !this.hostClosed;
  }

  /** Whether our CLOSE record should go out now. */
  get wantsClose(): boolean {
    return !this.closeSent && (this.#localDone || this.hostClosed) && this.#txBytes === 0;
  }

  #fed = false;

  /** Whether bytes went into a handshake since the last call (its output may still come). */
  takeHandshakeActivity(): boolean {
    const f = this.#fed && this.#tls === undefined && !this.#localDone;
    this.#fed = false;
    return f;
  }

  /** Bytes of a DATA record from the host. */
  feed(bytes: Uint8Array): void {
    if (this.#localDone || this.hostClosed) return;
    this.#fed = true;
    this.#wire.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** The host's CLOSE record. */
  hostClose(): void {
    if (this.hostClosed) return;
    this.hostClosed = true;
    this.#teardown();
    this.#tx.length = 0;
    this.#txBytes = 0;
  }

  /** Up to `max` bytes of ciphertext for the TX ring (tests; the NIC service uses `drainTx`). */
  takeTx(max: number): Uint8Array | undefined {
    if (this.#tx.length === 0 || max <= 0) return undefined;
    const head = this.#tx[0]!;
    if (head.length <= max) {
      this.#tx.shift();
      this.#txBytes -= head.length;
      return head;
    }
    this.#tx[0] = head.subarray(max);
    this.#txBytes -= max;
    return head.subarray(0, max);
  }

  /** Hands the next `n` (≤ txBytes) bytes of ciphertext to `sink` as spans of the TLS output buffers (no copy). */
  drainTx(n: number, sink: (src: Uint8Array, offset: number, len: number) => void): void {
    if (n > this.#txBytes) throw new RangeError("more TX bytes asked for than queued");
    let left = n;
    while (left > 0) {
      const head = this.#tx[0]!;
      const take = Math.min(left, head.length);
      sink(head, 0, take);
      if (take === head.length) this.#tx.shift();
      else this.#tx[0] = head.subarray(take);
      left -= take;
    }
    this.#txBytes -= n;
  }

  /**
   * Ends the connection from our side (refusal, fatal session error, agent shutdown):
   * closes TLS; the session is ended by the next `reap`. Never touches the machine.
   */
  close(): void {
    this.#closeRequested = true;
    this.#endPending = true;
    const t = this.#tls;
    if (t === undefined) this.#wire.destroy();
    else if (!t.destroyed) t.end();
    this.#finishSoon();
  }

  #onSecure(t: TLSSocket): void {
    const alpn = t.alpnProtocol;
    const io: SessionTransport = {
      send: (frame) => {
        if (t.destroyed || !t.writable) return;
        if (this.#corked === 0) t.cork();
        this.#corked += frame.length;
        t.write(frame);
      },
      close: () => this.close(),
      exporter: (label, length) => (t.destroyed ? undefined : new Uint8Array(t.exportKeyingMaterial(length, label, Buffer.alloc(0)))),
      serverSpki: this.#ctx.serverSpki,
    };
    const cfg = this.#ctx.config;
    if (alpn === ALPN_V1) {
      const peer = t.getPeerX509Certificate();
      const spki = peer !== undefined ? new Uint8Array(peer.publicKey.export({ format: "der", type: "spki" })) : undefined;
      if (cfg.ownerKey === undefined || spki === undefined || !bytesEqual(spki, cfg.ownerKey)) {
        this.#ctx.note("refused-not-owner", this.id);
        return this.close();
      }
      this.#session = new V1Session(this.#ctx.core, io, {
        heartbeatIntervalNs: this.#ctx.heartbeatIntervalNs,
        onClose: () => this.#ctx.note("session-fatal", this.id),
      });
      this.#ctx.note("v1-open", this.id);
    } else if (alpn === false || alpn === null || alpn === undefined) {
      if (!cfg.legacyV0) {
        this.#ctx.note("refused-v0-disabled", this.id);
        return this.close();
      }
      this.#session = new V0Session(this.#ctx.core, io, { onClose: () => this.#ctx.note("session-fatal", this.id) });
      this.#ctx.note("v0-open", this.id);
    } else {
      this.#ctx.note("refused-alpn", this.id);
      this.close();
    }
  }

  /** Runs a TLS event handler: an unexpected error ends this connection, never the agent; nothing escapes. */
  #guard(f: () => void): void {
    try {
      f();
    } catch {
      try {
        this.#ctx.note("session-fatal", this.id);
        this.#teardown();
      } catch {
        this.#endPending = true;
        this.#finish();
      }
    }
  }

  /** The transport is gone: destroy TLS, end the session at the next run. */
  #teardown(): void {
    this.#endPending = true;
    const t = this.#tls;
    if (t !== undefined && !t.destroyed) t.destroy();
    if (t === undefined && !this.#wire.destroyed) this.#wire.destroy();
    this.#finishSoon();
  }

  /** The TLS layer may still flush a close_notify; mark done once the wire is finished. */
  #finishSoon(): void {
    if (this.#wire.writableFinished || this.#wire.destroyed || this.#tls?.destroyed === true) this.#finish();
  }

  #finish(): void {
    this.#localDone = true;
  }
}
