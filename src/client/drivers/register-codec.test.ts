import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v1 } from "../../shared/protocol/index.js";
import { REGISTER_NAMES, VmiError, registerSet, type RegisterSet } from "../vmi/index.js";
import { fromWireRegisters, registerNameOf, registerWrites, toWireRegisters } from "./register-codec.js";

function sample(): RegisterSet {
  const r: Record<string, unknown> = { ...registerSet({}) };
  let n = 1n;
  for (const name of REGISTER_NAMES) {
    const cur = r[name];
    if (typeof cur === "bigint") r[name] = 0x1000n * n++ + 7n;
  }
  r["cs"] = { selector: 0x10n, base: 0n, limit: 0xffffffffn, attrib: 0x29bn };
  r["gs"] = { selector: 0n, base: 0xffff888000000000n, limit: 0xffffffffn, attrib: 0x93n };
  r["idtr"] = { base: 0xfffffe0000000000n, limit: 0xfffn };
  return r as unknown as RegisterSet;
}

describe("register codec", () => {
  it("round-trips every register through the wire message", () => {
    const regs = sample();
    const wire = create(v1.RegisterSetSchema, toWireRegisters(3, regs, { stopped: true, cpl: 0 }));
    const back = fromWireRegisters(wire);
    assert.equal(back.vcpu, 3);
    assert.equal(back.stopped, true);
    assert.deepEqual(back.regs, regs);
    assert.equal(back.known.size, REGISTER_NAMES.length);
  });

  it("turns writes into wire register numbers, FS/GS as bases, and refuses the rest", () => {
    const w = registerWrites({ rip: 0x10n, kernelGsBase: 0x20n, gs: { selector: 0n, base: 0x30n, limit: 0n, attrib: 0n } });
    assert.deepEqual(
      w.map((x) => [x.reg, x.value]),
      [
        [v1.Register.RIP, 0x10n],
        [v1.Register.KERNEL_GS_BASE, 0x20n],
        [v1.Register.GS_BASE, 0x30n],
      ],
    );
    assert.equal(registerNameOf(v1.Register.SYSENTER_EIP), "sysenterEip");
    assert.throws(() => registerWrites({ idtr: { base: 0n, limit: 0n } }), (e: unknown) => e instanceof VmiError && e.code === "BAD_ARGUMENT");
    assert.throws(() => registerWrites({ rax: -1n }), (e: unknown) => e instanceof VmiError && e.code === "BAD_ARGUMENT");
  });
});
