/**
 * Typed tables: what plugins produce and renderers print (Volatility's TreeGrid, reduced
 * to what we need). Columns declare a type; cells hold values of it or null (unknown).
 */

/** int: a JS number; address/hex: a bigint shown in hex; string; bool. */
export type ColumnType = "int" | "address" | "hex" | "string" | "bool";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly description?: string;
}

export type Cell = number | bigint | string | boolean | null;

export type Row = Readonly<Record<string, Cell>>;

export interface TableData {
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
  /** Tree output: indent column `column` by `by` (an int column) levels when rendered for people. */
  readonly indent?: { readonly column: string; readonly by: string };
}
