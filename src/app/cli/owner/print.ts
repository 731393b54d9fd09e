/**
 * Writing results: text for people on stdout, JSON for machines (bigints as "0x…",
 * bytes as hex), progress and notes on stderr. Tables come from src/client/output.
 */
import { jsonSafe } from "../../../shared/base/index.js";
import { renderJson, renderTable, type TableData } from "../../../client/index.js";

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

export function note(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

export function jsonText(v: unknown, indent: number | undefined = 2): string {
  return JSON.stringify(jsonSafe(v), null, indent);
}

export function outJson(v: unknown): void {
  out(jsonText(v));
}

/** A table for people, or `{columns, rows, ...extra}` for machines. */
export function outTable(data: TableData, json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) out(renderJson(data, jsonSafe(extra) as Record<string, unknown>));
  else out(renderTable(data, { maxWidth: 100 }));
}

/** "key  value" lines with aligned keys. */
export function keyValues(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n");
}

export const hex = (v: bigint | number): string => "0x" + v.toString(16);

export function mib(n: bigint | number): string {
  return (Number(n) / (1 << 20)).toFixed(1) + " MiB";
}
