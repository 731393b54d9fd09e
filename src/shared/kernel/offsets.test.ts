import { test } from "node:test";
import assert from "node:assert/strict";
import { ProfileError } from "./errors.js";
import { resolveMembers, resolveOffsets, resolveSymbols } from "./offsets.js";
import { btfFixtureProfile, committedProfile } from "./testing/fixtures.js";

for (const [label, load] of [
  ["BTF", btfFixtureProfile],
  ["ISF", committedProfile],
] as const) {
  test(`${label}: resolveOffsets resolves a declared map in one go`, () => {
    const o = resolveOffsets(load(), {
      task_struct: ["tasks", "pid", "tgid", "comm", "mm", "real_cred", "se.vruntime"],
      cred: ["uid"],
      mm_struct: ["pgd"],
      module: ["list", "name"],
    });
    assert.equal(o.task_struct.tasks, 2192);
    assert.equal(o.task_struct["se.vruntime"], 208);
    assert.equal(o.cred.uid, 8);
    assert.equal(o.mm_struct.pgd, 72);
    assert.deepEqual(o.module, { list: 8, name: 24 });
    const m = resolveMembers(load(), { task_struct: ["comm", "in_execve"] });
    assert.equal(m.task_struct.comm.size, 16);
    assert.equal(m.task_struct.in_execve.bitLength, 1);
    const s = resolveSymbols(load(), ["init_task", "linux_banner"]);
    assert.equal(s.init_task, 0xffffffff82a1aa40n);
  });

  test(`${label}: every missing member is reported, together, in one error`, () => {
    assert.throws(
      () =>
        resolveOffsets(load(), {
          task_struct: ["tasks", "no_such_a", "comm.deeper", "no_such_b"],
          no_such_struct: ["x"],
          cred: ["uid", "no_such_c"],
        }),
      (e: unknown) => {
        assert.ok(e instanceof ProfileError);
        assert.equal(e.code, "MISSING_OFFSETS");
        assert.deepEqual(e.details["missing"], [
          { struct: "task_struct", member: "no_such_a", reason: "UNKNOWN_MEMBER" },
          { struct: "task_struct", member: "comm.deeper", reason: "NOT_A_STRUCT" },
          { struct: "task_struct", member: "no_such_b", reason: "UNKNOWN_MEMBER" },
          { struct: "no_such_struct", member: "x", reason: "UNKNOWN_TYPE" },
          { struct: "cred", member: "no_such_c", reason: "UNKNOWN_MEMBER" },
        ]);
        for (const n of ["task_struct.no_such_a", "task_struct.comm.deeper", "task_struct.no_such_b", "no_such_struct.x", "cred.no_such_c"]) {
          assert.ok(e.message.includes(n), n);
        }
        return true;
      },
    );
    assert.throws(
      () => resolveSymbols(load(), ["init_task", "nope_1", "nope_2"]),
      (e: unknown) => e instanceof ProfileError && e.code === "MISSING_SYMBOLS" && (e.details["missing"] as string[]).join() === "nope_1,nope_2",
    );
  });
}
