/**
 * Renderers, kept apart from the plugins that make the rows: aligned text tables for
 * people, JSON for machines (addresses as "0x…" strings, ints as numbers, unknown as null).
 */
import type { Cell, Column, Row, TableData } from "./types.js";

const ADDR_WIDTH = 16;

/** One cell as text, by column type. */
export function formatCell(c: Column, v: Cell): string {
  if (v === null || v === undefined) return "-";
  switch (c.type) {
    case "address":
      return typeof v === "bigint" ? "0x" + v.toString(16).padStart(ADDR_WIDTH, "0") : String(v);
    case "hex":
      return typeof v === "bigint" || typeof v === "number" ? "0x" + v.toString(16) : String(v);
    case "bool":
      return v ? "yes" : "no";
    default:
      return String(v);
  }
}

/** A cell as a JSON value. */
export function jsonCell(c: Column, v: Cell): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") {
    if (c.type === "int" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return "0x" + v.toString(16);
  }
  if (typeof v === "number" && (c.type === "hex" || c.type === "address")) return "0x" + v.toString(16);
  return v;
}

/** Rows as plain JSON objects (column order kept). */
export function jsonRows(data: TableData): Record<string, string | number | boolean | null>[] {
  return data.rows.map((r) => {
    const o: Record<string, string | number | boolean | null> = {};
    for (const c of data.columns) o[c.name] = jsonCell(c, r[c.name] ?? null);
    return o;
  });
}

/** `{"columns": [{name, type}], "rows": [{…}], …extra}` as JSON text. */
export function renderJson(data: TableData, extra: Record<string, unknown> = {}, indent = 2): string {
  const doc = { ...extra, columns: data.columns.map((c) => ({ name: c.name, type: c.type })), rows: jsonRows(data) };
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === "bigint" ? "0x" + v.toString(16) : v), indent);
}

const rightAligned = (c: Column): boolean => c.type === "int";

/** An aligned text table with a header and a rule. */
export function renderTable(data: TableData, opts: { maxWidth?: number } = {}): string {
  const max = opts.maxWidth ?? 80;
  const cells: string[][] = data.rows.map((r: Row) =>
    data.columns.map((c) => {
      let s = formatCell(c, r[c.name] ?? null).replace(/[\x00-\x1f\x7f]/g, "?");
      if (data.indent && c.name === data.indent.column) {
        const d = r[data.indent.by];
        const depth = typeof d === "number" ? Math.max(0, Math.min(d, 64)) : 0;
        s = (depth > 0 ? "  ".repeat(depth - 1) + "└ " : "") + s;
      }
      return s.length > max ? s.slice(0, max - 1) + "…" : s;
    }),
  );
  const widths = data.columns.map((c, i) => Math.max(c.name.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => (rightAligned(data.columns[i]!) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const head = line(data.columns.map((c) => c.name.toUpperCase()));
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [head, rule, ...cells.map(line)].join("\n") + "\n";
}
