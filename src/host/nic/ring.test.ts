import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError, gpa } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { NIC_MAX_RECORD, NIC_RECORD_KIND } from "../../shared/spec/index.js";
import type { NicLayout } from "../../shared/spec/index.js";
import { NicRings, checkCounters, decodeRecordHeader, encodeRecordHeader } from "./ring.js";

function memory(size: number) {
  const m = new Uint8Array(size);
  return {
    m,
    read: (g: Gpa, len: number) => m.slice(Number(g), Number(g) + len),
    write: (g: Gpa, d: Uint8Array) => m.set(d, Number(g)),
  };
}
const nic: NicLayout = { control: gpa(0), rx: gpa(0x1000), rxBytes: 64, tx: gpa(0x2000), txBytes: 64 };

test("ring put/get wrap at the end of the ring", () => {
  const mem = memory(0x3000);
  const r = new NicRings(mem, nic);
  const data = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
  r.put("rx", 50, data); // 14 bytes at the end, 26 at the start
  assert.deepEqual([...mem.m.subarray(0x1000 + 50, 0x1000 + 64)], [...data.subarray(0, 14)]);
  assert.deepEqual([...mem.m.subarray(0x1000, 0x1000 + 26)], [...data.subarray(14)]);
  assert.deepEqual([...r.get("rx", 50 + 64 * 3, 40)], [...data], "counters are free-running");
});

test("the control page round-trips and is checked", () => {
  const mem = memory(0x3000);
  const r = new NicRings(mem, nic);
  r.initControl();
  r.checkControl();
  r.setCounter("txProd", 123);
  r.setFlags("agent", 3);
  assert.equal(r.counter("txProd"), 123);
  assert.equal(r.flags("agent"), 3);
  mem.m[8] = 99; // RX size
  assert.throws(() => r.checkControl(), DecodeError);
});

test("record headers: valid ones round-trip; reserved bits, unknown kinds and bad lengths are DecodeErrors", () => {
  const h = { conn: 7, kind: NIC_RECORD_KIND.DATA, length: 100 } as const;
  assert.deepEqual(decodeRecordHeader(encodeRecordHeader(h)), h);
  const bad = [
    (() => {
      const b = encodeRecordHeader(h);
      b[6] = 1;
      return b;
    })(),
    encodeRecordHeader({ conn: 1, kind: 9 as 1, length: 0 }),
    encodeRecordHeader({ conn: 1, kind: NIC_RECORD_KIND.DATA, length: NIC_MAX_RECORD + 1 }),
    encodeRecordHeader({ conn: 1, kind: NIC_RECORD_KIND.CLOSE, length: 1 }),
    new Uint8Array(11),
  ];
  for (const b of bad) assert.throws(() => decodeRecordHeader(b), DecodeError);
});

test("counters: consumer past producer, overfull, or running backwards are DecodeErrors", () => {
  const last = { prod: 100, cons: 50 };
  checkCounters(120, 60, 64, last);
  for (const [p, c] of [
    [120, 130],
    [200, 100],
    [90, 60],
    [120, 40],
  ] as const) {
    assert.throws(() => checkCounters(p, c, 64, last), DecodeError, `${p}/${c}`);
  }
});
