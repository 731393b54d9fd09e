/**
 * Test helpers for the real Linux memory images in ../shared/fixtures/linux (see its
 * README): paths, a System.map lookup, and a parser for QEMU's `info registers -a`.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../../../shared/fixtures/linux/", import.meta.url));

export const FIXTURE_DIR = ROOT;
export const SYSTEM_MAP = ROOT + "debian-6.1.0-56-amd64/System.map";

export interface FixtureImage {
  readonly name: "nokaslr-256M" | "kaslr-256M";
  readonly vmcore: string;
  readonly registersTxt: string;
  /** Virtual KASLR slide (README). */
  readonly slide: bigint;
}

export const FIXTURE_IMAGES: readonly FixtureImage[] = [
  { name: "nokaslr-256M", vmcore: ROOT + "nokaslr-256M/vmcore.elf.gz", registersTxt: ROOT + "nokaslr-256M/registers.txt", slide: 0n },
  { name: "kaslr-256M", vmcore: ROOT + "kaslr-256M/vmcore.elf.gz", registersTxt: ROOT + "kaslr-256M/registers.txt", slide: 0x18800000n },
];

/** Why fixture tests must skip, or false when the files are there. */
export function fixtureSkip(img: FixtureImage): string | false {
  for (const f of [img.vmcore, img.registersTxt, SYSTEM_MAP]) {
    if (!existsSync(f)) return `fixture file ${f} is absent (see ../shared/fixtures/linux/README.md)`;
  }
  return false;
}

let symbols: Map<string, bigint> | undefined;

/** Un-slid address of a System.map symbol. */
export function systemMapAddress(name: string): bigint {
  if (!symbols) {
    symbols = new Map();
    for (const line of readFileSync(SYSTEM_MAP, "utf8").split("\n")) {
      const [addr, , sym] = line.trim().split(/\s+/);
      if (addr && sym && !symbols.has(sym)) symbols.set(sym, BigInt("0x" + addr));
    }
  }
  const a = symbols.get(name);
  if (a === undefined) throw new Error(`System.map has no ${name}`);
  return a;
}

export interface InfoRegisters {
  readonly values: Map<string, bigint>;
  /** Segment name → [selector, base, limit, flags]. */
  readonly segments: Map<string, readonly [bigint, bigint, bigint, bigint]>;
  /** "GDT"/"IDT" → [base, limit]. */
  readonly tables: Map<string, readonly [bigint, bigint]>;
}

/** Parses QEMU's `info registers -a` into one record per CPU. */
export function parseInfoRegisters(text: string): InfoRegisters[] {
  const cpus: InfoRegisters[] = [];
  let cur: InfoRegisters | undefined;
  for (const line of text.split("\n")) {
    if (/^CPU#\d+/.test(line)) {
      cur = { values: new Map(), segments: new Map(), tables: new Map() };
      cpus.push(cur);
      continue;
    }
    if (!cur) continue;
    const seg = /^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=([0-9a-f]{4}) ([0-9a-f]{16}) ([0-9a-f]{8}) ([0-9a-f]{8})/.exec(line);
    if (seg) {
      cur.segments.set(seg[1]!, [BigInt("0x" + seg[2]), BigInt("0x" + seg[3]), BigInt("0x" + seg[4]), BigInt("0x" + seg[5])]);
      continue;
    }
    const tab = /^(GDT|IDT)=\s+([0-9a-f]{16}) ([0-9a-f]{8})/.exec(line);
    if (tab) {
      cur.tables.set(tab[1]!, [BigInt("0x" + tab[2]), BigInt("0x" + tab[3])]);
      continue;
    }
    if (/^(FPR|XMM|FCW)/.test(line)) continue;
    for (const m of line.matchAll(/\b([A-Z][A-Z0-9]*)\s*=([0-9a-f]+)\b/g)) cur.values.set(m[1]!, BigInt("0x" + m[2]));
  }
  return cpus;
}
