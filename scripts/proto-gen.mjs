#!/usr/bin/env node
// Generates the protobuf-es code for proto/ into src/shared/protocol/gen (or into the
// directory given as the first argument). The compiler is protoc (Debian's
// protobuf-compiler, installed by .ci/run); the code generator is the pinned
// @bufbuild/protoc-gen-es from node_modules.
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

export function generate(repo, outDir) {
  const protoRoot = join(repo, "proto");
  const files = [];
  const walk = (d) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".proto")) files.push(relative(protoRoot, p));
    }
  };
  walk(protoRoot);
  mkdirSync(outDir, { recursive: true });
  const plugin = join(repo, "node_modules/.bin/protoc-gen-es");
  const r = spawnSync(
    "protoc",
    ["-I", protoRoot, `--plugin=protoc-gen-es=${plugin}`, `--es_out=${outDir}`, "--es_opt=target=ts,import_extension=js", ...files],
    { cwd: repo, encoding: "utf8" },
  );
  if (r.error !== undefined) {
    throw new Error(`protoc could not be run (${r.error.message}); install it with: apt-get install protobuf-compiler`);
  }
  if (r.status !== 0) throw new Error(`protoc failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const repo = process.cwd();
  const out = process.argv[2] ?? join(repo, "src/shared/protocol/gen");
  try {
    const files = generate(repo, out);
    console.log(`proto-gen: ${files.length} .proto files → ${relative(repo, out) || "."}`);
  } catch (e) {
    console.error(`proto-gen: ${e.message}`);
    process.exit(1);
  }
}
