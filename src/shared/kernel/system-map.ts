/**
 * System.map parser: one symbol per line, `ADDRESS TYPE NAME` (nm's output format, as
 * written by the kernel build and, with an optional `[module]` column, by /proc/kallsyms).
 * ADDRESS is up to 16 hex digits (un-slid), TYPE one nm type letter, NAME printable ASCII.
 * Blank lines and CRLF endings are tolerated; any other line is rejected with a
 * `DecodeError` (code SYSMAP_BAD_LINE) naming the line number.
 *
 * Several lines may carry the same name (static symbols of different files). `address()`
 * picks one deterministically: a global symbol (upper-case type) over a local one, then
 * the first in file order; `all()` returns every entry. Module symbols (kallsyms lines
 * with `[module]`) are kept in `entries`/`all()` but are not kernel-image symbols, so
 * `address()`, `nearest()` and `index` leave them out.
 */
import { DecodeError } from "../base/index.js";
import { SymbolIndex, type SymbolHit } from "./symbol-index.js";

export interface SystemMapEntry {
  readonly address: bigint;
  /** nm type letter: T/t text, D/d data, B/b bss, R/r rodata, A absolute, W/w weak, ... */
  readonly type: string;
  readonly name: string;
  /** Module name when the line came from /proc/kallsyms with a `[module]` column. */
  readonly module?: string;
  /** 1-based line number in the input. */
  readonly line: number;
}

const LINE = /^([0-9a-fA-F]{1,16})[ \t]+([A-Za-z?-])[ \t]+([\x21-\x7e]+)(?:[ \t]+\[([\x21-\x5a\x5c\x5e-\x7e]+)\])?$/;
const MAX_LINE_SHOWN = 80;

export class SystemMap {
  /** Every entry, in file order. */
  readonly entries: readonly SystemMapEntry[];
  readonly #byName = new Map<string, SystemMapEntry[]>();
  readonly #index: SymbolIndex;

  constructor(entries: readonly SystemMapEntry[]) {
    this.entries = entries;
    const chosen = new Map<string, bigint>();
    for (const e of entries) {
      const list = this.#byName.get(e.name);
      if (list === undefined) this.#byName.set(e.name, [e]);
      else list.push(e);
    }
    for (const [name, list] of this.#byName) {
      const e = pick(list);
      if (e.module === undefined) chosen.set(name, e.address);
    }
    this.#index = new SymbolIndex(chosen);
  }

  /** Number of distinct names. */
  get size(): number {
    return this.#byName.size;
  }

  /** The chosen address of a kernel-image name (see the file comment), or undefined. */
  address(name: string): bigint | undefined {
    return this.#index.address(name);
  }

  /** The chosen entry of a name. */
  entry(name: string): SystemMapEntry | undefined {
    const list = this.#byName.get(name);
    return list === undefined ? undefined : pick(list);
  }

  /** All entries of a name, in file order. */
  all(name: string): readonly SystemMapEntry[] {
    return this.#byName.get(name) ?? [];
  }

  /** Nearest symbol at or below an address (one name per address, see symbol-index.ts). */
  nearest(address: bigint): SymbolHit | undefined {
    return this.#index.nearest(address);
  }

  /** The name → chosen address table. */
  get index(): SymbolIndex {
    return this.#index;
  }
}

/** 0: global kernel symbol, 1: local kernel symbol, 2: module symbol. */
function rank(e: SystemMapEntry): number {
  if (e.module !== undefined) return 2;
  return e.type >= "A" && e.type <= "Z" ? 0 : 1;
}

function pick(list: readonly SystemMapEntry[]): SystemMapEntry {
  let best = list[0]!;
  for (const e of list) if (rank(e) < rank(best)) best = e;
  return best;
}

/** Parses System.map text (or its bytes, UTF-8). */
export function parseSystemMap(input: string | Uint8Array): SystemMap {
  const text = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: false }).decode(input);
  const entries: SystemMapEntry[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = text.length;
    lineNo++;
    let raw = text.slice(start, nl);
    start = nl + 1;
    if (raw.endsWith("\r")) raw = raw.slice(0, -1);
    const line = raw.trim();
    if (line === "") continue;
    const m = LINE.exec(line);
    if (m === null) {
      throw new DecodeError("SYSMAP_BAD_LINE", `System.map line ${lineNo} is not "ADDRESS TYPE NAME": ${JSON.stringify(line.slice(0, MAX_LINE_SHOWN))}`, {
        line: lineNo,
        text: line.slice(0, MAX_LINE_SHOWN),
      });
    }
    const e: SystemMapEntry =
      m[4] === undefined
        ? { address: BigInt("0x" + m[1]!), type: m[2]!, name: m[3]!, line: lineNo }
        : { address: BigInt("0x" + m[1]!), type: m[2]!, name: m[3]!, module: m[4], line: lineNo };
    entries.push(e);
  }
  if (entries.length === 0) throw new DecodeError("SYSMAP_EMPTY", "System.map has no symbols", {});
  return new SystemMap(entries);
}
