import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatCell, jsonCell, renderJson, renderTable } from "./render.js";
import type { TableData } from "./types.js";

const data: TableData = {
  columns: [
    { name: "pid", type: "int" },
    { name: "name", type: "string" },
    { name: "addr", type: "address" },
    { name: "flags", type: "hex" },
    { name: "ok", type: "bool" },
  ],
  rows: [
    { pid: 1, name: "init", addr: 0xffff888000001000n, flags: 0x75n, ok: true },
    { pid: 1234, name: "evil\x1b[2J", addr: null, flags: 255, ok: false },
  ],
};

describe("renderers", () => {
  it("aligns a table: ints right, the rest left, unknown as -", () => {
    const t = renderTable(data).split("\n");
    assert.equal(t[0], " PID  NAME      ADDR                FLAGS  OK");
    assert.equal(t[1], "----  --------  ------------------  -----  ---");
    assert.equal(t[2], "   1  init      0xffff888000001000  0x75   yes");
    assert.equal(t[3], "1234  evil?[2J  -                   0xff   no");
  });

  it("indents tree columns by depth", () => {
    const tree: TableData = { columns: [{ name: "depth", type: "int" }, { name: "comm", type: "string" }], rows: [{ depth: 0, comm: "a" }, { depth: 2, comm: "c" }], indent: { column: "comm", by: "depth" } };
    assert.deepEqual(renderTable(tree).split("\n").slice(2, 4), ["    0  a", "    2    └ c"]);
  });

  it("writes JSON with hex addresses, numbers and nulls", () => {
    const j = JSON.parse(renderJson(data, { plugin: "x", big: 1n << 64n })) as Record<string, unknown>;
    assert.deepEqual(j, {
      plugin: "x",
      big: "0x10000000000000000",
      columns: data.columns.map((c) => ({ name: c.name, type: c.type })),
      rows: [
        { pid: 1, name: "init", addr: "0xffff888000001000", flags: "0x75", ok: true },
        { pid: 1234, name: "evil\x1b[2J", addr: null, flags: "0xff", ok: false },
      ],
    });
    assert.equal(jsonCell({ name: "n", type: "int" }, 5n), 5);
    assert.equal(jsonCell({ name: "n", type: "int" }, 1n << 60n), "0x1000000000000000");
    assert.equal(formatCell({ name: "a", type: "address" }, 0x10n), "0x0000000000000010");
  });
});
