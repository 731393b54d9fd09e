/**
 * Relay adversaries: what a hostile host does to the bytes it relays between a TCP client
 * and the agent's NIC. Each connection and direction gets a `stage` that sees the relayed
 * items in order (DATA payloads, then CLOSE) and emits what the host really forwards:
 * tampered (one bit flipped, or a whole record replaced with random bytes), dropped,
 * duplicated (record replay), swapped with the next (reorder) or held back (delay). The
 * client→agent bytes of one connection can be recorded and replayed later as a whole new
 * session (`replay=session`). The host never understands the bytes; it only moves them.
 */
import type { SeededRng } from "../../shared/base/index.js";
import type { Counters, HostLog } from "../observe.js";
import type { AdversaryConfig, Direction, StreamTarget } from "./config.js";

export type RelayItem = { readonly kind: "data"; readonly payload: Uint8Array } | { readonly kind: "close" };
export type Emit = (item: RelayItem) => void;
export type Stage = (item: RelayItem) => void;

function hits(t: StreamTarget | undefined, conn: number, dir: Direction, n: number): boolean {
  return t !== undefined && t.dir === dir && t.nth === n && (t.conn === undefined || t.conn === conn);
}

export class RelayAdversary {
  readonly #cfg: AdversaryConfig;
  readonly #rng: SeededRng;
  readonly #counters: Counters;
  readonly #log: HostLog;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Recorded client→agent payloads of the connection `replay=session` targets. */
  #session: Uint8Array[] | undefined;
  #sessionDone = false;

  constructor(cfg: AdversaryConfig, rng: SeededRng, counters: Counters, log: HostLog) {
    this.#cfg = cfg;
    this.#rng = rng;
    this.#counters = counters;
    this.#log = log;
  }

  /** A stage for connection number `conn` (accept order, from 1) in direction `dir`. */
  stage(conn: number, dir: Direction, emit: Emit): Stage {
    const cfg = this.#cfg;
    const out = this.#delayed(dir, emit);
    let n = 0;
    let held: Uint8Array | undefined;
    const recording = cfg.replay?.mode === "session" && cfg.replay.conn === conn && dir === "rx" && !this.#sessionDone;
    if (recording) this.#session = [];
    return (item) => {
      if (item.kind === "close") {
        if (held !== undefined) {
          out({ kind: "data", payload: held });
          held = undefined;
        }
        if (recording && this.#session !== undefined) this.#sessionDone = true;
        out(item);
        return;
      }
      n++;
      let p = item.payload;
      if (recording) this.#session?.push(new Uint8Array(p));
      if (hits(cfg.drop, conn, dir, n)) {
        this.#note("drop", `dropped record ${n} (${p.length} bytes) of connection ${conn} ${dir}`, { conn, dir, nth: n, length: p.length });
        return;
      }
      if (hits(cfg.tamper, conn, dir, n) && cfg.tamper !== undefined && p.length > 0) {
        p = new Uint8Array(p);
        if (cfg.tamper.mode === "bit") {
          const at = Math.min(cfg.tamper.byte ?? Math.floor(p.length / 2), p.length - 1);
          p[at] = p[at]! ^ 1;
          this.#note("tamper", `flipped bit 0 of byte ${at} in record ${n} of connection ${conn} ${dir}`, { conn, dir, nth: n, byte: at });
        } else {
          p.set(this.#rng.bytes(p.length));
          this.#note("tamper", `replaced record ${n} (${p.length} bytes) of connection ${conn} ${dir} with random bytes`, { conn, dir, nth: n });
        }
      }
      if (hits(cfg.reorder, conn, dir, n)) {
        held = p;
        return;
      }
      out({ kind: "data", payload: p });
      if (held !== undefined) {
        out({ kind: "data", payload: held });
        this.#note("reorder", `swapped records ${n - 1} and ${n} of connection ${conn} ${dir}`, { conn, dir, nth: n - 1 });
        held = undefined;
      }
      if (cfg.replay?.mode === "record" && hits(cfg.replay.target, conn, dir, n)) {
        out({ kind: "data", payload: new Uint8Array(p) });
        this.#note("replay", `re-injected record ${n} (${p.length} bytes) of connection ${conn} ${dir}`, { conn, dir, nth: n });
      }
    };
  }

  /** The recorded session, once, after its connection closed (`replay=session`). */
  takeSession(): Uint8Array[] | undefined {
    if (!this.#sessionDone || this.#session === undefined) return undefined;
    const s = this.#session;
    this.#session = undefined;
    return s;
  }

  /** Cancels pending delayed items. */
  dispose(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #delayed(dir: Direction, emit: Emit): Emit {
    const d = this.#cfg.delay;
    if (d === undefined || (d.dir !== "both" && d.dir !== dir)) return emit;
    // One FIFO per stage: items leave in arrival order, each `ms` after it arrived.
    const queue: { at: number; item: RelayItem }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const head = queue[0];
      if (head === undefined || timer !== undefined) return;
      timer = setTimeout(() => {
        if (timer !== undefined) this.#timers.delete(timer);
        timer = undefined;
        const now = performance.now();
        while (queue.length > 0 && queue[0]!.at <= now) emit(queue.shift()!.item);
        arm();
      }, Math.max(0, head.at - performance.now()));
      this.#timers.add(timer);
    };
    return (item) => {
      queue.push({ at: performance.now() + d.ms, item });
      this.#counters.inc("adversary.delay");
      arm();
    };
  }

  #note(what: string, message: string, details: Record<string, unknown>): void {
    this.#counters.inc(`adversary.${what}`);
    this.#log.event(`adversary.${what}`, message, details);
  }
}
