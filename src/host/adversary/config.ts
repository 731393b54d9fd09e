/**
 * The adversary switches of the untrusted host: a typed set, each switch on its own, and
 * its parser for the command line (`--adversary NAME[=ARG]`, repeatable).
 *
 * ARG is a comma-separated list: an optional leading positional value (the switch's main
 * parameter) and `key=value` items. Directions: `rx` = client → agent, `tx` = agent →
 * client. `nth` counts the DATA records of one connection in one direction from 1;
 * `conn` picks one connection by accept order (from 1; default: every connection).
 *
 *   tamper[=bit|record][,dir=rx|tx][,nth=N][,conn=K][,byte=B]  flip one bit / corrupt a whole record
 *   replay[=record|session][,dir=rx|tx][,nth=N][,conn=K]        re-inject a record, or a whole recorded session
 *   drop[=N][,dir=rx|tx][,conn=K]                                drop the Nth record
 *   reorder[=N][,dir=rx|tx][,conn=K]                             swap the Nth and N+1th records
 *   delay[=MS][,dir=rx|tx|both]                                  delay relayed bytes
 *   read-private[=GPA][,every=ROUNDS]                            read guest private memory (sees ciphertext)
 *   write-private[=GPA][,every=ROUNDS]                           write guest private memory (faults)
 *   starve-vmpl0[=AFTER_MS]                                      never run VMPL0 (after boot + AFTER_MS)
 *   delay-vmpl0[=MS]                                             postpone every VMPL0 run by MS
 *   forge-npf[=EVERY][,vcpu=V]                                   run VMPL0 with NPF_FORWARD when nothing faulted
 *   vmrun-paused[=EVERY]                                         keep VMRUNning paused VMPL1 VMSAs
 *   swap-report[=replay|foreign]                                 swap guest-request responses
 *   inject-interrupt[=EVERY][,vmpl=0|1]                          spurious VMPL0 wake-ups / VMPL1 preemption storms
 */
import type { Gpa } from "../../shared/base/index.js";
import { HostError } from "../errors.js";

export type Direction = "rx" | "tx";

export interface StreamTarget {
  readonly dir: Direction;
  /** Which DATA record of the connection in that direction (from 1). */
  readonly nth: number;
  /** Accept order of the one connection to attack (from 1); undefined = every connection. */
  readonly conn?: number;
}

export interface AdversaryConfig {
  readonly tamper?: StreamTarget & { readonly mode: "bit" | "record"; readonly byte?: number };
  readonly replay?: { readonly mode: "record"; readonly target: StreamTarget } | { readonly mode: "session"; readonly conn: number };
  readonly drop?: StreamTarget;
  readonly reorder?: StreamTarget;
  readonly delay?: { readonly dir: Direction | "both"; readonly ms: number };
  readonly readPrivate?: { readonly gpa?: Gpa; readonly every: number };
  readonly writePrivate?: { readonly gpa?: Gpa; readonly every: number };
  readonly starveVmpl0?: { readonly afterMs: number };
  readonly delayVmpl0?: { readonly ms: number };
  readonly forgeNpf?: { readonly every: number; readonly vcpu?: number };
  readonly vmrunPaused?: { readonly every: number };
  readonly swapReport?: { readonly mode: "replay" | "foreign" };
  readonly injectInterrupt?: { readonly every: number; readonly vmpl: 0 | 1 };
}

export type AdversaryName = keyof AdversaryConfig;

/** CLI name → config key, with a one-line description (for --help and errors). */
export const ADVERSARY_SWITCHES: Readonly<Record<string, { readonly key: AdversaryName; readonly help: string }>> = {
  tamper: { key: "tamper", help: "tamper[=bit|record][,dir=rx|tx][,nth=N][,conn=K][,byte=B]: flip one bit of, or corrupt, a relayed record" },
  replay: { key: "replay", help: "replay[=record|session][,dir=rx|tx][,nth=N][,conn=K]: re-inject a relayed record or a whole recorded session" },
  drop: { key: "drop", help: "drop[=N][,dir=rx|tx][,conn=K]: drop the Nth relayed record" },
  reorder: { key: "reorder", help: "reorder[=N][,dir=rx|tx][,conn=K]: swap the Nth and N+1th relayed records" },
  delay: { key: "delay", help: "delay[=MS][,dir=rx|tx|both]: delay relayed bytes by MS milliseconds" },
  "read-private": { key: "readPrivate", help: "read-private[=GPA][,every=ROUNDS]: read guest private memory (logs the ciphertext it sees)" },
  "write-private": { key: "writePrivate", help: "write-private[=GPA][,every=ROUNDS]: write guest private memory (expects the #PF)" },
  "starve-vmpl0": { key: "starveVmpl0", help: "starve-vmpl0[=AFTER_MS]: never run VMPL0 once booted (and AFTER_MS passed)" },
  "delay-vmpl0": { key: "delayVmpl0", help: "delay-vmpl0[=MS]: postpone every VMPL0 run by MS milliseconds" },
  "forge-npf": { key: "forgeNpf", help: "forge-npf[=EVERY][,vcpu=V]: run VMPL0 with NPF_FORWARD every EVERY rounds when nothing faulted" },
  "vmrun-paused": { key: "vmrunPaused", help: "vmrun-paused[=EVERY]: VMRUN paused VMPL1 VMSAs anyway, every EVERY rounds" },
  "swap-report": { key: "swapReport", help: "swap-report[=replay|foreign]: replace guest-request responses with an older one or another VM's" },
  "inject-interrupt": { key: "injectInterrupt", help: "inject-interrupt[=EVERY][,vmpl=0|1]: spurious VMPL0 wake-ups (0) or VMPL1 preemption storms (1)" },
};

export function adversaryNames(): string[] {
  return Object.keys(ADVERSARY_SWITCHES);
}

interface Arg {
  readonly name: string;
  readonly positional: string | undefined;
  readonly kv: Map<string, string>;
}

function bad(name: string, message: string, details: Record<string, unknown> = {}): HostError {
  return new HostError("BAD_ADVERSARY_ARG", `--adversary ${name}: ${message}`, { name, ...details });
}

function splitArg(name: string, raw: string | undefined, allowed: readonly string[]): Arg {
  const kv = new Map<string, string>();
  let positional: string | undefined;
  if (raw !== undefined && raw !== "") {
    const items = raw.split(",");
    items.forEach((item, i) => {
      const eq = item.indexOf("=");
      if (eq < 0) {
        if (i !== 0) throw bad(name, `"${item}" must be key=value (only the first item may be bare)`);
        positional = item.trim();
        return;
      }
      const k = item.slice(0, eq).trim();
      const v = item.slice(eq + 1).trim();
      if (!allowed.includes(k)) throw bad(name, `unknown key "${k}" (known: ${allowed.join(", ") || "none"})`, { key: k });
      if (kv.has(k)) throw bad(name, `key "${k}" given twice`, { key: k });
      kv.set(k, v);
    });
  }
  return { name, positional, kv };
}

function int(a: Arg, s: string | undefined, what: string, dflt: number, min: number, max = 2 ** 31): number {
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s)) throw bad(a.name, `${what} must be an integer (got "${s}")`, { [what]: s });
  const n = Number(s);
  if (n < min || n > max) throw bad(a.name, `${what} must be ${min}..${max} (got ${n})`, { [what]: n });
  return n;
}

function dir(a: Arg, dflt: Direction): Direction {
  const d = a.kv.get("dir") ?? dflt;
  if (d !== "rx" && d !== "tx") throw bad(a.name, `dir must be rx or tx (got "${d}")`, { dir: d });
  return d;
}

function oneOf<T extends string>(a: Arg, s: string | undefined, options: readonly T[], dflt: T): T {
  if (s === undefined) return dflt;
  if (!(options as readonly string[]).includes(s)) throw bad(a.name, `must be one of ${options.join(", ")} (got "${s}")`, { value: s });
  return s as T;
}

function gpaArg(a: Arg, s: string | undefined): Gpa | undefined {
  if (s === undefined) return undefined;
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw bad(a.name, `GPA must be a number (hex with 0x) (got "${s}")`, { gpa: s });
  return BigInt(s) as Gpa;
}

function target(a: Arg, nth: string | undefined): StreamTarget {
  const conn = a.kv.get("conn");
  return {
    dir: dir(a, "rx"),
    nth: int(a, nth, "nth", 1, 1),
    ...(conn !== undefined ? { conn: int(a, conn, "conn", 1, 1) } : {}),
  };
}

type Parser = (a: Arg) => AdversaryConfig;
const PARSERS: Record<string, { keys: readonly string[]; parse: Parser }> = {
  tamper: {
    keys: ["dir", "nth", "conn", "byte"],
    parse: (a) => {
      const byte = a.kv.get("byte");
      return {
        tamper: {
          mode: oneOf(a, a.positional, ["bit", "record"] as const, "bit"),
          ...target(a, a.kv.get("nth")),
          ...(byte !== undefined ? { byte: int(a, byte, "byte", 0, 0) } : {}),
        },
      };
    },
  },
  replay: {
    keys: ["dir", "nth", "conn"],
    parse: (a) => {
      const mode = oneOf(a, a.positional, ["record", "session"] as const, "record");
      if (mode === "session") {
        if (a.kv.has("dir") && a.kv.get("dir") !== "rx") throw bad(a.name, "a session is replayed towards the agent (dir=rx)");
        return { replay: { mode, conn: int(a, a.kv.get("conn"), "conn", 1, 1) } };
      }
      return { replay: { mode, target: target(a, a.kv.get("nth")) } };
    },
  },
  drop: { keys: ["dir", "conn"], parse: (a) => ({ drop: target(a, a.positional) }) },
  reorder: { keys: ["dir", "conn"], parse: (a) => ({ reorder: target(a, a.positional) }) },
  delay: {
    keys: ["dir"],
    parse: (a) => {
      const d = a.kv.get("dir") ?? "both";
      if (d !== "rx" && d !== "tx" && d !== "both") throw bad(a.name, `dir must be rx, tx or both (got "${d}")`);
      return { delay: { dir: d, ms: int(a, a.positional, "ms", 200, 1, 600_000) } };
    },
  },
  "read-private": {
    keys: ["every"],
    parse: (a) => {
      const g = gpaArg(a, a.positional);
      return { readPrivate: { every: int(a, a.kv.get("every"), "every", 1000, 1), ...(g !== undefined ? { gpa: g } : {}) } };
    },
  },
  "write-private": {
    keys: ["every"],
    parse: (a) => {
      const g = gpaArg(a, a.positional);
      return { writePrivate: { every: int(a, a.kv.get("every"), "every", 1000, 1), ...(g !== undefined ? { gpa: g } : {}) } };
    },
  },
  "starve-vmpl0": { keys: [], parse: (a) => ({ starveVmpl0: { afterMs: int(a, a.positional, "after", 0, 0) } }) },
  "delay-vmpl0": { keys: [], parse: (a) => ({ delayVmpl0: { ms: int(a, a.positional, "ms", 500, 1, 600_000) } }) },
  "forge-npf": {
    keys: ["vcpu"],
    parse: (a) => {
      const v = a.kv.get("vcpu");
      return { forgeNpf: { every: int(a, a.positional, "every", 100, 1), ...(v !== undefined ? { vcpu: int(a, v, "vcpu", 0, 0, 63) } : {}) } };
    },
  },
  "vmrun-paused": { keys: [], parse: (a) => ({ vmrunPaused: { every: int(a, a.positional, "every", 1, 1) } }) },
  "swap-report": { keys: [], parse: (a) => ({ swapReport: { mode: oneOf(a, a.positional, ["replay", "foreign"] as const, "replay") } }) },
  "inject-interrupt": {
    keys: ["vmpl"],
    parse: (a) => {
      const v = int(a, a.kv.get("vmpl"), "vmpl", 0, 0, 1);
      return { injectInterrupt: { every: int(a, a.positional, "every", 50, 1), vmpl: v === 0 ? 0 : 1 } };
    },
  },
};

/** Parses one `NAME[=ARG]`. Throws HostError UNKNOWN_ADVERSARY / BAD_ADVERSARY_ARG. */
export function parseAdversary(spec: string): AdversaryConfig {
  const s = spec.trim();
  const eq = s.indexOf("=");
  const name = eq < 0 ? s : s.slice(0, eq);
  const raw = eq < 0 ? undefined : s.slice(eq + 1);
  const p = PARSERS[name];
  if (p === undefined) {
    throw new HostError("UNKNOWN_ADVERSARY", `unknown adversary "${name}" (known: ${adversaryNames().join(", ")})`, { name, known: adversaryNames() });
  }
  return p.parse(splitArg(name, raw, p.keys));
}

/** Parses repeated `--adversary` values into one set; a switch given twice is an error. */
export function parseAdversaries(specs: readonly string[]): AdversaryConfig {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const one = parseAdversary(spec);
    for (const [k, v] of Object.entries(one)) {
      if (k in out) throw new HostError("BAD_ADVERSARY_ARG", `--adversary ${spec}: switch "${k}" given twice`, { name: k });
      out[k] = v;
    }
  }
  return out as AdversaryConfig;
}

/** The names of the switches that are on (CLI spelling). */
export function activeAdversaries(cfg: AdversaryConfig): string[] {
  return Object.entries(ADVERSARY_SWITCHES)
    .filter(([, s]) => cfg[s.key] !== undefined)
    .map(([n]) => n);
}
