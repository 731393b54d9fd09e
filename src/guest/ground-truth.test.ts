/**
 * The ground-truth document: written atomically as JSON, addresses as hex strings, made
 * from the model's bookkeeping (hidden things included), quiescent when memory agrees.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootGuest, settle } from "./testing/harness.js";
import { writeGroundTruth, GROUND_TRUTH_FORMAT, type GroundTruth } from "./ground-truth.js";

test("written to a file as JSON; lists hidden processes and modules, hooks and scenarios", () => {
  const b = bootGuest({ seed: "gt", rootkits: ["hide-process=sshd", "hide-module=loop", "hook-syscall=kill"] });
  settle(b, 1000, 100);
  const dir = mkdtempSync(join(tmpdir(), "guest-gt-"));
  const path = join(dir, "gt.json");
  writeGroundTruth(path, b.guest.groundTruth());
  assert.deepEqual(readdirSync(dir), ["gt.json"], "no temporary file left behind");
  const gt = JSON.parse(readFileSync(path, "utf8")) as GroundTruth;
  assert.equal(gt.format, GROUND_TRUTH_FORMAT);
  assert.equal(gt.quiescent, true);
  const sshd = gt.processes.find((p) => p.comm === "sshd")!;
  assert.equal(sshd.hidden, true);
  assert.equal(sshd.inTaskList, false);
  assert.match(sshd.task, /^0x[0-9a-f]+$/);
  assert.match(sshd.dtb!, /^0x[0-9a-f]+000$/);
  assert.ok(sshd.vmas.length >= 10 && sshd.files.length >= 3);
  assert.equal(gt.modules.find((m) => m.name === "loop")!.hiddenFromList, true);
  assert.deepEqual(gt.scenarios.map((s) => [s.name, s.status]), [["hide-process", "active"], ["hide-module", "active"], ["hook-syscall", "active"]]);
  assert.deepEqual(gt.hooks.map((h) => h.kind), ["dkom-task", "dkom-module", "syscall"]);
  assert.equal(gt.syscallTable.entries.length, 451);
  assert.equal(gt.idt.gates.length, 256);
  assert.equal(gt.vcpus.length, 2);
  assert.equal(gt.idleTasks.length, 2);
  assert.equal(gt.kernel.release, "6.1.0-56-amd64");
});
