import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LinuxError, WalkError } from "../../../client/index.js";
import { TORN_RETRIES, untorn } from "./linux-target.js";

const torn = (): WalkError => new WalkError("WALK_CORRUPT", "tasks", "list node does not point back at 0xffff888000001000", { address: 0xffff888000001000n, reason: "r" });

/** A session whose `settle` answers `can` and counts its calls. */
function session(can = true): { settle(): Promise<boolean>; settled: number } {
  const s = { settled: 0, settle: async () => (s.settled++, can) };
  return s;
}

describe("untorn: a walk that met a structure mid-update is tried again on a fresh pause", () => {
  it("settles and tries again after a walk error, returning the first good result", async () => {
    const s = session();
    const seen: number[] = [];
    const r = await untorn(s, async (retry) => {
      seen.push(retry);
      if (retry < 2) throw torn();
      return "rows";
    });
    assert.equal(r, "rows");
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(s.settled, 2);
  });

  it("gives up after TORN_RETRIES retries with the last walk error", async () => {
    const s = session();
    let n = 0;
    await assert.rejects(
      untorn(s, async () => {
        n++;
        throw torn();
      }),
      (e: unknown) => e instanceof WalkError && e.code === "WALK_CORRUPT",
    );
    assert.equal(n, TORN_RETRIES + 1);
    assert.equal(s.settled, TORN_RETRIES);
  });

  it("runs once when the session cannot settle (an image, or no pause)", async () => {
    const s = session(false);
    let n = 0;
    await assert.rejects(
      untorn(s, async () => {
        n++;
        throw torn();
      }),
      WalkError,
    );
    assert.equal(n, 1);
  });

  it("never retries other errors", async () => {
    const s = session();
    await assert.rejects(
      untorn(s, async () => {
        throw new LinuxError("UNKNOWN_CHECK", "no check named x", { names: ["x"] });
      }),
      (e: unknown) => e instanceof LinuxError && e.code === "UNKNOWN_CHECK",
    );
    assert.equal(s.settled, 0);
  });

  it("retries a result `torn` rejects, and keeps the last one", async () => {
    const s = session();
    const r = await untorn(s, async (retry) => ({ retry, bad: true }), (x) => x.bad);
    assert.deepEqual(r, { retry: TORN_RETRIES, bad: true });
    assert.equal(s.settled, TORN_RETRIES);
    const s2 = session();
    const r2 = await untorn(s2, async (retry) => ({ retry, bad: retry === 0 }), (x) => x.bad);
    assert.deepEqual(r2, { retry: 1, bad: false });
    assert.equal(s2.settled, 1);
  });
});
