import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../shared/base/index.js";
import { Counters, HostLog } from "../observe.js";
import type { AdversaryConfig } from "./config.js";
import { RelayAdversary } from "./stream.js";
import type { RelayItem } from "./stream.js";

const rec = (i: number, len = 16): Uint8Array => new Uint8Array(len).fill(i);

function run(cfg: AdversaryConfig, items: RelayItem[], conn = 1, dir: "rx" | "tx" = "rx") {
  const counters = new Counters();
  const adv = new RelayAdversary(cfg, new SeededRng("stream-test"), counters, new HostLog());
  const out: RelayItem[] = [];
  const stage = adv.stage(conn, dir, (i) => out.push(i));
  for (const i of items) stage(i);
  return { out, counters, adv };
}
const data = (n: number): RelayItem[] => [...Array.from({ length: n }, (_, i) => ({ kind: "data" as const, payload: rec(i + 1) })), { kind: "close" }];
const payloads = (out: RelayItem[]): number[][] => out.filter((i) => i.kind === "data").map((i) => [...(i as { payload: Uint8Array }).payload]);
const bitsDiffer = (a: Uint8Array, b: Uint8Array): number => a.reduce((n, x, i) => n + popcount(x ^ b[i]!), 0);
function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

test("no switch: items pass unchanged", () => {
  const { out } = run({}, data(3));
  assert.deepEqual(payloads(out), [[...rec(1)], [...rec(2)], [...rec(3)]]);
  assert.equal(out.at(-1)!.kind, "close");
});

test("tamper=bit flips exactly one bit of exactly the nth record", () => {
  const { out, counters } = run({ tamper: { mode: "bit", dir: "rx", nth: 2 } }, data(3));
  const p = out.filter((i) => i.kind === "data").map((i) => (i as { payload: Uint8Array }).payload);
  assert.equal(bitsDiffer(p[0]!, rec(1)), 0);
  assert.equal(bitsDiffer(p[1]!, rec(2)), 1);
  assert.equal(bitsDiffer(p[2]!, rec(3)), 0);
  assert.equal(counters.get("adversary.tamper"), 1);
});

test("tamper=record replaces the whole record, keeping its length", () => {
  const { out } = run({ tamper: { mode: "record", dir: "rx", nth: 1 } }, data(2), 1);
  const p = out.filter((i) => i.kind === "data").map((i) => (i as { payload: Uint8Array }).payload);
  assert.equal(p[0]!.length, 16);
  assert.ok(bitsDiffer(p[0]!, rec(1)) > 8);
  assert.deepEqual([...p[1]!], [...rec(2)]);
});

test("switches only hit their direction and connection", () => {
  assert.deepEqual(payloads(run({ drop: { dir: "tx", nth: 1 } }, data(2), 1, "rx").out).length, 2);
  assert.deepEqual(payloads(run({ drop: { dir: "rx", nth: 1, conn: 2 } }, data(2), 1, "rx").out).length, 2);
  assert.deepEqual(payloads(run({ drop: { dir: "rx", nth: 1, conn: 2 } }, data(2), 2, "rx").out).length, 1);
});

test("drop removes the nth record", () => {
  assert.deepEqual(payloads(run({ drop: { dir: "rx", nth: 2 } }, data(3)).out), [[...rec(1)], [...rec(3)]]);
});

test("reorder swaps the nth and n+1th records; a held record is flushed before CLOSE", () => {
  assert.deepEqual(payloads(run({ reorder: { dir: "rx", nth: 1 } }, data(3)).out), [[...rec(2)], [...rec(1)], [...rec(3)]]);
  const { out } = run({ reorder: { dir: "rx", nth: 2 } }, data(2));
  assert.deepEqual(payloads(out), [[...rec(1)], [...rec(2)]]);
  assert.equal(out.at(-1)!.kind, "close");
});

test("replay=record re-injects the nth record right after it", () => {
  assert.deepEqual(payloads(run({ replay: { mode: "record", target: { dir: "rx", nth: 2 } } }, data(3)).out), [[...rec(1)], [...rec(2)], [...rec(2)], [...rec(3)]]);
});

test("replay=session records the connection's client bytes and hands them over once, after CLOSE", () => {
  const { adv } = run({ replay: { mode: "session", conn: 1 } }, data(3));
  const s = adv.takeSession();
  assert.deepEqual(s?.map((p) => [...p]), [[...rec(1)], [...rec(2)], [...rec(3)]]);
  assert.equal(adv.takeSession(), undefined);
});

test("delay holds items back in order, then releases them", async () => {
  const counters = new Counters();
  const adv = new RelayAdversary({ delay: { dir: "both", ms: 30 } }, new SeededRng("d"), counters, new HostLog());
  const out: RelayItem[] = [];
  const stage = adv.stage(1, "tx", (i) => out.push(i));
  for (const i of data(3)) stage(i);
  assert.equal(out.length, 0);
  await new Promise((r) => setTimeout(r, 1));
  assert.equal(out.length, 0, "still held after 1 ms");
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(payloads(out), [[...rec(1)], [...rec(2)], [...rec(3)]]);
  assert.equal(out.at(-1)!.kind, "close");
  adv.dispose();
});
