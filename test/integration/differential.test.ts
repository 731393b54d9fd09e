/**
 * The differential test: `seven ps` through the attested agent, through the
 * non-confidential baseline host, and on a dump of the same paused guest give identical
 * output. The agent and the baseline run the same guest (same seed, no workload, so the
 * same memory) on an SEV-SNP machine and on an ordinary one; each command pauses the guest
 * while it reads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "./cli-harness.js";
import { startWorld, type LiveWorld } from "./live-world.js";

let sev: LiveWorld;
let plain: LiveWorld;

before(async () => {
  [sev, plain] = await Promise.all([startWorld({ seed: "differential", workload: false }), startWorld({ seed: "differential", workload: false, sev: false })]);
});
after(async () => {
  await sev?.world.stop();
  await plain?.world.stop();
});

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `seven ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function rowsOf(stdout: string): unknown {
  const doc = JSON.parse(stdout) as { columns: unknown; rows: unknown };
  return { columns: doc.columns, rows: doc.rows };
}

describe("differential: agent, baseline and dump", () => {
  it("ps gives identical output through the agent, the baseline and on the dump", async () => {
    const agentTarget = ["--target", sev.targetFile];
    const baseline = ["--baseline", plain.endpoint];
    const dump = join(sev.dir, "guest.lime");
    // `seven ps` pauses the guest while it reads; `dump --pause` likewise.
    const viaAgent = rowsOf(await cli(["ps", "--json", ...agentTarget]));
    const viaBaseline = rowsOf(await cli(["ps", "--json", ...baseline]));
    assert.match(await cli(["dump", "--out", dump, "--pause", "--no-progress", ...agentTarget]), /wrote .*guest\.lime: lime, 240\.0 MiB/);
    const onDump = rowsOf(await cli(["ps", "--json", "--image", dump, "--profile", join(process.cwd(), "profiles/debian-6.1.0-56-amd64.isf.json.gz")]));
    const n = (viaAgent as { rows: unknown[] }).rows.length;
    assert.ok(n > 50, `${n} processes`);
    assert.deepEqual(viaBaseline, viaAgent);
    assert.deepEqual(onDump, viaAgent);
    // Text output too: the same table, whatever the source.
    const text = async (args: string[]): Promise<string> => (await cli(["ps", ...args])).trim();
    assert.equal(await text(baseline), await text(agentTarget));
  });
});
