/** CpuFault is control flow of the model: cheap to build (no stack trace), still a SevenError with code and details. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SevenError } from "../shared/base/index.js";
import { NPF_EXITINFO1 as N } from "../shared/spec/index.js";
import { CpuFault, PlatformError } from "./fault.js";
import { npf } from "./raise.js";

describe("CpuFault", () => {
  it("is an Error and a SevenError with its code, fields and details", () => {
    const f = npf(0x1234, N.P | N.RMP, { access: "write", vmpl: 1, reason: "test", va: 0x7000n });
    assert.ok(f instanceof Error && f instanceof SevenError && f instanceof CpuFault);
    assert.equal(f.name, "CpuFault");
    assert.equal(f.code, "npf");
    assert.equal(f.domain, "platform");
    assert.equal(f.message, "NPF at VMPL1: test");
    assert.deepEqual([f.vector, f.errorCode, f.gpa, f.va, f.access], [0x400, N.P | N.RMP, 0x1234n, 0x7000n, "write"]);
    assert.deepEqual(f.details, { vector: 0x400, errorCode: N.P | N.RMP, gpa: 0x1234n, va: 0x7000n, access: "write", vmpl: 1 });
    assert.deepEqual(f.toJSON().details, { vector: 0x400, errorCode: `0x${(N.P | N.RMP).toString(16)}`, gpa: "0x1234", va: "0x7000", access: "write", vmpl: 1 });
  });

  it("captures no stack trace (only the message line) and leaves Error.stackTraceLimit as it was", () => {
    const before = Error.stackTraceLimit;
    const f = new CpuFault("gp", { vector: 13, errorCode: 0n, access: "read", vmpl: 0, reason: "no frames" });
    assert.equal(f.stack, "CpuFault: GP at VMPL0: no frames");
    assert.equal(Error.stackTraceLimit, before);
    assert.match(new PlatformError("BAD_GPA", "other errors keep theirs").stack ?? "", /\n\s+at /);
  });
});
