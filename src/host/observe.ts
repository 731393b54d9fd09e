/**
 * What the host counts and logs. Counters are flat dotted names ("exit.vmpl1.npf",
 * "nic.rx.bytes", "adversary.tamper"), so a new event needs no schema change; the log keeps
 * the last events in memory (tests read them) and forwards each to an optional sink (the
 * CLI prints them with --verbose).
 */
export class Counters {
  readonly #m = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.#m.set(name, (this.#m.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.#m.get(name) ?? 0;
  }

  /** A sorted plain-object copy. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#m].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
}

export interface HostEvent {
  /** Dotted kind, e.g. "adversary.read-private", "nic.protocol-error", "vcpu.shutdown". */
  readonly kind: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type HostEventSink = (e: HostEvent) => void;

export class HostLog {
  readonly #keep: number;
  readonly #events: HostEvent[] = [];
  readonly #sink: HostEventSink | undefined;

  constructor(sink?: HostEventSink, keep = 256) {
    this.#sink = sink;
    this.#keep = keep;
  }

  event(kind: string, message: string, details?: Record<string, unknown>): void {
    const e: HostEvent = details === undefined ? { kind, message } : { kind, message, details };
    this.#events.push(e);
    if (this.#events.length > this.#keep) this.#events.shift();
    this.#sink?.(e);
  }

  /** The kept events (most recent last), optionally only those whose kind starts with `prefix`. */
  events(prefix?: string): HostEvent[] {
    return prefix === undefined ? [...this.#events] : this.#events.filter((e) => e.kind.startsWith(prefix));
  }
}
