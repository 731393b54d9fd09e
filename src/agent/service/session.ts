/**
 * What a protocol session needs from its transport (a TLS socket on the NIC, or a plain
 * stream for the baseline), and what the runtime needs from a session.
 */

export interface SessionTransport {
  /** Sends one frame (length prefix and message together, one write). */
  send(frame: Uint8Array): void;
  /** Ends the session (TLS close / stream end). Idempotent. */
  close(): void;
  /** The TLS exporter for v1 channel binding; undefined without TLS. */
  exporter(label: string, length: number): Uint8Array | undefined;
  /** SPKI DER of the agent's TLS key (v0 report binding); undefined without TLS. */
  readonly serverSpki: Uint8Array | undefined;
}

export interface Session {
  readonly protocol: "v1" | "v0";
  readonly sessionId: number;
  /**
   * Plaintext bytes from the transport. Called from transport callbacks: it only queues
   * (or fails the session and closes the transport); it never touches the machine and
   * never throws.
   */
  accept(bytes: Uint8Array): void;
  /** Whether requests are queued that `step` would handle now. */
  readonly hasWork: boolean;
  /** Handles one queued request (bounded work); false when there was nothing to do. */
  step(): boolean;
  /** Periodic duties (heartbeats) at agent time `nowNs`; returns the next due time. */
  tick(nowNs: bigint): bigint | undefined;
  /**
   * The transport is gone (or the session failed): release everything it holds in the
   * core. Touches the machine, so the agent calls it only while it runs at VMPL0.
   * Idempotent.
   */
  end(): void;
  /** No more requests are served (the session failed, or ended). */
  readonly closed: boolean;
}

/** How many frames may wait unanswered in one session before it is throttled. */
export function inboxLimit(maxInFlight: number): number {
  return Math.max(1, maxInFlight);
}
