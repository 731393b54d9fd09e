/** Parsing addresses and lengths on the command line: numbers (hex or decimal) or SYMBOL[+OFFSET]. */
import { CliUsageError } from "../errors.js";

export type AddressArg = { readonly kind: "number"; readonly value: bigint } | { readonly kind: "symbol"; readonly symbol: string; readonly offset: bigint };

const NUM = /^(0x[0-9a-f]+|\d+)$/i;

export function parseNumber(s: string, what: string, max = (1n << 64n) - 1n): bigint {
  const t = s.trim().replace(/_/g, "");
  if (!NUM.test(t)) throw new CliUsageError(`${what}: ${JSON.stringify(s)} is not a number (decimal or 0x-hex)`);
  const v = BigInt(t);
  if (v > max) throw new CliUsageError(`${what}: ${s} is too large (at most 0x${max.toString(16)})`);
  return v;
}

export function parseAddress(s: string, what = "ADDR"): AddressArg {
  const t = s.trim();
  if (NUM.test(t.replace(/_/g, ""))) return { kind: "number", value: parseNumber(t, what) };
  const m = /^([A-Za-z_][A-Za-z0-9_.$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(t);
  if (!m) throw new CliUsageError(`${what}: ${JSON.stringify(s)} is neither an address (0x…) nor SYMBOL[+OFFSET]`);
  return { kind: "symbol", symbol: m[1]!, offset: m[2] !== undefined ? BigInt(m[2]) : 0n };
}

export function parseCount(s: string, what: string, min: number, max: number): number {
  const v = parseNumber(s, what, BigInt(max));
  if (v < BigInt(min)) throw new CliUsageError(`${what}: must be at least ${min}`);
  return Number(v);
}
