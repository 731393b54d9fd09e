/**
 * Name ↔ address lookups over a symbol table, shared by both profile backends.
 *
 * Reverse lookup returns the nearest symbol at or below an address. When several names
 * share an address, the one kept for reverse lookup is chosen without regard to where the
 * table came from (so an ISF profile and the System.map it was made from agree): fewest
 * leading underscores first (as the kernel's scripts/kallsyms.c prefers), then the
 * lexicographically smallest name.
 */
export interface SymbolHit {
  readonly name: string;
  /** The symbol's (un-slid) address. */
  readonly address: bigint;
  /** address asked − symbol address (≥ 0). */
  readonly offset: bigint;
}

function leadingUnderscores(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 0x5f) i++;
  return i;
}

/** True when `a` is preferred over `b` as the name shown for a shared address. */
export function preferredAlias(a: string, b: string): boolean {
  const ua = leadingUnderscores(a);
  const ub = leadingUnderscores(b);
  if (ua !== ub) return ua < ub;
  return a < b;
}

/** One address per name (the provider resolves duplicates). A Map qualifies. */
export interface SymbolTable {
  get(name: string): bigint | undefined;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, bigint]>;
  readonly size: number;
}

export class SymbolIndex {
  readonly #byName: SymbolTable;
  #sortedAddrs: BigUint64Array | undefined;
  #sortedNames: string[] | undefined;

  constructor(byName: SymbolTable) {
    this.#byName = byName;
  }

  get size(): number {
    return this.#byName.size;
  }

  address(name: string): bigint | undefined {
    return this.#byName.get(name);
  }

  names(): IterableIterator<string> {
    return this.#byName.keys();
  }

  entries(): IterableIterator<[string, bigint]> {
    return this.#byName.entries();
  }

  /** The nearest symbol at or below `address`, or undefined if none is. */
  nearest(address: bigint): SymbolHit | undefined {
    this.#build();
    const addrs = this.#sortedAddrs!;
    const names = this.#sortedNames!;
    let lo = 0;
    let hi = addrs.length; // first index with addrs[i] > address
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (addrs[mid]! <= address) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    const a = addrs[lo - 1]!;
    return { name: names[lo - 1]!, address: a, offset: address - a };
  }

  #build(): void {
    if (this.#sortedAddrs !== undefined) return;
    // One name per distinct address, chosen by preferredAlias.
    const best = new Map<bigint, string>();
    for (const [name, addr] of this.#byName.entries()) {
      const cur = best.get(addr);
      if (cur === undefined || preferredAlias(name, cur)) best.set(addr, name);
    }
    const addrs = BigUint64Array.from(best.keys()).sort();
    this.#sortedAddrs = addrs;
    this.#sortedNames = Array.from(addrs, (a) => best.get(a)!);
  }
}
