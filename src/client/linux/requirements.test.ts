/**
 * Requirement tables: declared once, resolved at attach, every missing name of every
 * plugin reported together — before any guest memory is read.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProfileError, type MemberPath, type Profile } from "../../shared/kernel/index.js";
import { testProfile } from "./testing/profile.js";
import { SyntheticKernel } from "./testing/synthetic-kernel.js";
import { LinuxError } from "./errors.js";
import { bindRequirements, checkRequirements, flattenRequirements, missingRequirements, requirements } from "./requirements.js";
import { ALL_REQUIREMENTS } from "./plugins/registry.js";
import { TASKS, PER_CPU } from "./walkers/tasks.js";
import { openLinux } from "./session.js";

/** The profile without some symbols and types (a kernel of another build). */
function without(p: Profile, hide: { symbols?: string[]; types?: string[] }): Profile {
  const sy = new Set(hide.symbols ?? []);
  const ty = new Set(hide.types ?? []);
  return new Proxy(p, {
    get(target, prop, recv) {
      const orig = Reflect.get(target, prop, recv) as unknown;
      if (typeof orig !== "function") return orig;
      if (prop === "findMember") return (s: string, path: MemberPath) => (ty.has(s) ? undefined : target.findMember(s, path));
      if (prop === "member")
        return (s: string, path: MemberPath) => {
          if (ty.has(s)) throw new ProfileError("UNKNOWN_TYPE", `no struct ${s}`, { type: s });
          return target.member(s, path);
        };
      if (prop === "symbolAddress") return (n: string) => (sy.has(n) ? undefined : target.symbolAddress(n));
      if (prop === "hasType") return (n: string) => !ty.has(n) && target.hasType(n);
      return (orig as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

describe("requirements", () => {
  it("binds offsets, sizes and slid symbols (per-cpu offsets stay unslid)", async () => {
    const p = await testProfile();
    const b = bindRequirements(p, [TASKS, PER_CPU], 0x18800000n);
    const t = b.get(TASKS)!;
    assert.equal(t.o["task_struct"]!["comm"], p.offsetOf("task_struct", "comm"));
    assert.equal(t.size["task_struct"], p.sizeOf("task_struct"));
    assert.equal(t.sym["init_task"], p.requireSymbol("init_task") + 0x18800000n);
    const c = b.get(PER_CPU)!;
    assert.equal(c.sym["current_task"], p.requireSymbol("current_task"));
  });

  it("lists every missing member, symbol and type of every plugin in one error", async () => {
    const p = await testProfile();
    const broken = without(p, { symbols: ["modules", "sys_call_table"], types: ["tty_ldisc_ops", "nf_hook_entry"] });
    assert.deepEqual(missingRequirements(p, ALL_REQUIREMENTS), []);
    let err: LinuxError | undefined;
    try {
      checkRequirements(broken, ALL_REQUIREMENTS);
    } catch (e) {
      err = e as LinuxError;
    }
    assert.ok(err instanceof LinuxError && err.code === "MISSING_REQUIREMENTS");
    const missing = err.details["missing"] as { plugin: string; kind: string; symbol?: string; type?: string }[];
    assert.deepEqual(
      missing.map((x) => `${x.plugin}:${x.kind}:${x.symbol ?? x.type}`).sort(),
      [
        "modules:symbol:modules",
        "netfilter-hooks:member:undefined",
        "netfilter-hooks:type:nf_hook_entry",
        "syscall-table:symbol:sys_call_table",
        "tty-ldisc:type:tty_ldisc_ops",
      ],
    );
    assert.deepEqual(missing.find((x) => x.kind === "member"), { plugin: "netfilter-hooks", kind: "member", struct: "nf_hook_entry", member: "hook", reason: "UNKNOWN_TYPE" });
    assert.match(err.message, /5 name\(s\)/);
  });

  it("names plugin, struct and member for missing members", async () => {
    const p = await testProfile();
    const req = requirements("demo", { members: { task_struct: ["comm", "no_such_member"], no_such_struct: ["x"] }, symbols: ["no_such_symbol"] });
    const missing = missingRequirements(p, [req]);
    assert.deepEqual(missing, [
      { plugin: "demo", kind: "member", struct: "task_struct", member: "no_such_member", reason: "UNKNOWN_MEMBER" },
      { plugin: "demo", kind: "member", struct: "no_such_struct", member: "x", reason: "UNKNOWN_TYPE" },
      { plugin: "demo", kind: "symbol", symbol: "no_such_symbol" },
    ]);
  });

  it("fails attach before reading any memory when the profile does not fit", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p);
    const vmi = await s.vmi();
    s.mem.calls.length = 0;
    await assert.rejects(openLinux(vmi, without(p, { symbols: ["init_task", "idt_table"] })), (e: unknown) => e instanceof LinuxError && e.code === "MISSING_REQUIREMENTS");
    assert.equal(s.mem.calls.length, 0);
  });

  it("flattens tables with what they use, each once", () => {
    const a = requirements("a", { symbols: ["x"] });
    const b = requirements("b", { uses: [a] });
    const c = requirements("c", { uses: [a, b] });
    assert.deepEqual(flattenRequirements([c, b]).map((r) => r.name), ["a", "b", "c"]);
  });
});
