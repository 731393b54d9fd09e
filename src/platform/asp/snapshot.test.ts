import { test } from "node:test";
import assert from "node:assert/strict";
import { gpa } from "../../shared/base/index.js";
import { PlatformError } from "../fault.js";
import { SEV_RET } from "./firmware-status.js";
import { createSecureProcessor } from "./index.js";
import { FakeHardware, testConfig } from "./testing/fake-hardware.js";
import { buildRequestPage, openResponsePage, reportRequest, reportResponse } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";
import type { LaunchedGuest } from "./testing/launched-guest.js";

function ask(g: LaunchedGuest, vmpck: number, seqno: bigint, vmpl = 3): { status: number; report: Uint8Array } {
  const key = g.vmpck[vmpck]!;
  g.hw.hostWrite(g.request, buildRequestPage({ key, vmpck, seqno, payload: reportRequest(new Uint8Array(64).fill(7), vmpl) }));
  const status = g.asp.guestRequest(g.request, g.response);
  if (status !== SEV_RET.SUCCESS) return { status, report: new Uint8Array(0) };
  return { status, report: reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload).report };
}

test("snapshot → JSON → restore into an ASP of another seed continues the guest exactly", () => {
  const g = launchGuest(testConfig(), { finish: () => ({ hostData: new Uint8Array(32).fill(3) }) });
  assert.equal(ask(g, 0, 1n).status, 0);
  assert.equal(ask(g, 2, 1n).status, 0);
  const snap = JSON.parse(JSON.stringify(g.asp.snapshot())) as unknown;

  // The original continues...
  const next0 = ask(g, 0, 3n);
  const next2 = ask(g, 2, 3n);
  const first1 = ask(g, 1, 1n);
  const certs = g.asp.certificates();

  // ...and so does a fresh ASP (different seed, same hardware view) restored from the snapshot.
  const other = createSecureProcessor(g.hw, testConfig({}, "a different seed"));
  other.restore(snap);
  const h: LaunchedGuest = { ...g, asp: other };
  assert.equal(ask(h, 0, 1n).status, SEV_RET.INVALID_PARAM, "consumed seqnos stay consumed");
  assert.deepEqual(ask(h, 0, 3n), next0);
  assert.deepEqual(ask(h, 2, 3n), next2);
  assert.deepEqual(ask(h, 1, 1n), first1);
  assert.deepEqual(other.launchDigest, g.asp.launchDigest);
  assert.deepEqual(other.certificates(), certs, "keys and certificates come back from the snapshot's seed");
  assert.equal(other.arkPem, g.asp.arkPem);
});

test("snapshot of a launch in progress: restore and finish gives the same digest", () => {
  const hw = new FakeHardware();
  const a = createSecureProcessor(hw, testConfig());
  a.launchStart({ policy: 0x30000n });
  a.launchUpdate({ gpa: gpa(0x1000), type: "zero" });
  const snap = a.snapshot();
  a.launchUpdate({ gpa: gpa(0x2000), type: "zero" });
  const b = createSecureProcessor(new FakeHardware(), testConfig());
  b.restore(snap);
  b.launchUpdate({ gpa: gpa(0x2000), type: "zero" });
  assert.deepEqual(b.launchDigest, a.launchDigest);
  b.launchFinish({});
  assert.throws(() => b.launchFinish({}), (e: unknown) => e instanceof PlatformError && e.code === "LAUNCH_STATE");
  // A snapshot taken before launch restores the "none" state.
  const c = createSecureProcessor(new FakeHardware(), testConfig());
  c.restore(createSecureProcessor(new FakeHardware(), testConfig()).snapshot());
  c.launchStart({ policy: 0x30000n });
});

test("restore rejects malformed snapshots with SNAPSHOT and keeps the current state", () => {
  const g = launchGuest();
  const good = JSON.parse(JSON.stringify(g.asp.snapshot())) as Record<string, unknown>;
  const guest = good.guest as Record<string, unknown>;
  const bad: unknown[] = [
    null,
    "x",
    { ...good, kind: "other" },
    { ...good, version: 2 },
    { ...good, product: "naples" },
    { ...good, chipSeed: "00" },
    { ...good, issuedAtMs: 1.5 },
    { ...good, guest: { ...guest, phase: "paused" } },
    { ...good, guest: { ...guest, vmpck: ["00".repeat(32)] } },
    { ...good, guest: { ...guest, nextSeqno: ["0x1", "0x1", "0x1", "1"] } },
    { ...good, guest: { ...guest, digest: "zz".repeat(48) } },
    { ...good, guest: { ...guest, policy: "0x" + "f".repeat(17) } },
    { ...good, guest: { ...guest, authorKeyEn: 1 } },
  ];
  for (const s of bad) {
    assert.throws(() => g.asp.restore(s), (e: unknown) => e instanceof PlatformError && e.code === "SNAPSHOT", JSON.stringify(s)?.slice(0, 80));
  }
  const turin = createSecureProcessor(new FakeHardware(), testConfig({ product: "turin" }));
  assert.throws(() => turin.restore(good), (e: unknown) => e instanceof PlatformError && e.code === "SNAPSHOT");
  assert.equal(ask(g, 0, 1n).status, 0, "the guest still works after refused restores");
});
