/** Loading profiles: ISF (plain or gzip) or BTF + System.map; bad input gives typed errors. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { DecodeError } from "../../shared/base/index.js";
import { ProfileError } from "../../shared/kernel/index.js";
import { LinuxError } from "./errors.js";
import { loadKernelProfile } from "./profile-source.js";
import { ISF_PATH } from "./testing/profile.js";
import { FIXTURE_DIR } from "../vmi/testing/fixtures.js";

const BTF = FIXTURE_DIR + "debian-6.1.0-56-amd64/vmlinux.btf";
const MAP = FIXTURE_DIR + "debian-6.1.0-56-amd64/System.map";

describe("loadKernelProfile", () => {
  it("loads the committed ISF profile and, from the fixtures, BTF + System.map that agree with it", { skip: !existsSync(BTF) && "no BTF fixture" }, async () => {
    const isf = await loadKernelProfile({ isf: ISF_PATH });
    const btf = await loadKernelProfile({ btf: BTF, systemMap: MAP });
    assert.equal(isf.source, "isf");
    assert.equal(btf.source, "btf");
    for (const [s, m] of [["task_struct", "comm"], ["module", "list"], ["mm_struct", "pgd"], ["xa_node", "slots"]] as const) assert.equal(isf.offsetOf(s, m), btf.offsetOf(s, m));
    assert.equal(isf.symbolAddress("init_task"), btf.symbolAddress("init_task"));
  });

  it("rejects malformed ISF bytes, plain or gzipped, with DecodeError", async () => {
    for (const bad of [new TextEncoder().encode("{not json"), gzipSync(Buffer.from("[1,2,3]")), new Uint8Array([0x1f, 0x8b, 1, 2, 3])]) {
      await assert.rejects(loadKernelProfile({ isf: bad }), (e: unknown) => e instanceof DecodeError);
    }
  });

  it("says which file it cannot read, and refuses neither or both sources", async () => {
    await assert.rejects(loadKernelProfile({ isf: "/nonexistent/x.json" }), (e: unknown) => e instanceof ProfileError && e.code === "FILE_ERROR");
    await assert.rejects(loadKernelProfile({ btf: "/nonexistent/btf", systemMap: "/nonexistent/map" }), (e: unknown) => e instanceof ProfileError && e.code === "FILE_ERROR");
    await assert.rejects(loadKernelProfile({} as never), (e: unknown) => e instanceof LinuxError && e.code === "BAD_ARGUMENT");
    await assert.rejects(loadKernelProfile({ isf: ISF_PATH, btf: BTF, systemMap: MAP } as never), (e: unknown) => e instanceof LinuxError && e.code === "BAD_ARGUMENT");
  });
});
