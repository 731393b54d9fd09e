/**
 * The import graph is the threat model: this test proves the dependency rules in
 * .dependency-cruiser.cjs reject each kind of forbidden import (and accept the allowed
 * shape), by running dependency-cruiser on small scratch trees with the real config.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { spawnSync } from "node:child_process";

const repo = resolve(import.meta.dirname, "../..");
const depcruise = join(repo, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

function cruise(files: Record<string, string>): { status: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "seven-deps-"));
  try {
    copyFileSync(join(repo, ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true }, include: ["src"] }),
    );
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    const r = spawnSync(process.execPath, [depcruise, "src", "--config", ".dependency-cruiser.cjs", "--output-type", "err"], {
      cwd: dir,
      encoding: "utf8",
    });
    return { status: r.status ?? -1, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = {
  "src/shared/base/index.ts": "export const x = 1;\n",
  "src/platform/index.ts": 'import { x } from "../shared/base/index.js";\nexport const p = x;\n',
  "src/platform/memory.ts": "export const m = 1;\n",
  "src/client/index.ts": "export const c = 1;\n",
  "src/host/index.ts": 'import { p } from "../platform/index.js";\nexport const h = p;\n',
  "src/agent/index.ts": "export const a = 1;\n",
  "src/shared/protocol/index.ts": "export const w = 1;\n",
  "src/shared/kernel/index.ts": "export const k = 1;\n",
};

test("the allowed shape passes", () => {
  const r = cruise(base);
  assert.equal(r.status, 0, r.out);
});

const forbidden: [string, string, string][] = [
  ["client imports platform", "src/client/index.ts", 'import { p } from "../platform/index.js";\nexport const c = p;\n'],
  ["host imports the protocol", "src/host/index.ts", 'import { w } from "../shared/protocol/index.js";\nexport const h = w;\n'],
  ["agent imports Linux knowledge", "src/agent/index.ts", 'import { k } from "../shared/kernel/index.js";\nexport const a = k;\n'],
  ["platform imports client", "src/platform/index.ts", 'import { c } from "../client/index.js";\nexport const p = c;\n'],
  ["deep import across domains", "src/host/index.ts", 'import { m } from "../platform/memory.js";\nexport const h = m;\n'],
];

for (const [what, file, text] of forbidden) {
  test(`a forbidden import fails the rules: ${what}`, () => {
    const r = cruise({ ...base, [file]: text });
    assert.notEqual(r.status, 0, `expected a violation for: ${what}\n${r.out}`);
  });
}

test("a cycle fails the rules", () => {
  const r = cruise({
    ...base,
    "src/client/a.ts": 'import { b } from "./b.js";\nexport const a = b;\n',
    "src/client/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
  });
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /no-cycles/);
});
