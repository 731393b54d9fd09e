// Output rendering (src/client/output): typed tables for plugins, text and JSON renderers.
export type { Cell, Column, ColumnType, Row, TableData } from "./types.js";
export { formatCell, jsonCell, jsonRows, renderJson, renderTable } from "./render.js";
