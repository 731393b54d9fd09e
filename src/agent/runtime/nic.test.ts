import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Gpa } from "../../shared/base/index.js";
import { DecodeError } from "../../shared/base/index.js";
import { NIC_CONTROL, NIC_MAGIC, NIC_RECORD_HEADER, NIC_RECORD_KIND, NIC_VERSION } from "../../shared/spec/index.js";
import type { NicLayout } from "../../shared/spec/index.js";
import { MAX_OPEN_PAYLOAD, NicDriver, NicError } from "./nic.js";
import type { SharedMem } from "./nic.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const NIC: NicLayout = { control: 0x1000n as Gpa, rx: 0x10000n as Gpa, rxBytes: 256, tx: 0x20000n as Gpa, txBytes: 256 };

/** A flat byte space for the shared pages, with a log of every read. */
function memory() {
  const bytes = new Uint8Array(0x30000);
  const reads: [bigint, number][] = [];
  const mem: SharedMem = {
    read: (g, len) => {
      reads.push([g, len]);
      return bytes.slice(Number(g), Number(g) + len);
    },
    write: (g, d) => bytes.set(d, Number(g)),
    readInto: (g, dst, off, len) => {
      reads.push([g, len]);
      dst.set(bytes.subarray(Number(g), Number(g) + len), off);
    },
    writeFrom: (g, src, off, len) => bytes.set(src.subarray(off, off + len), Number(g)),
  };
  const dv = new DataView(bytes.buffer);
  return { bytes, mem, reads, dv };
}

/** The host's side, written straight into the bytes. */
function hostInit(m: ReturnType<typeof memory>): void {
  m.bytes.set(NIC_CONTROL.serialize({ magic: NIC_MAGIC, version: NIC_VERSION, rx_size: 256, tx_size: 256, rx_prod: 0n, rx_cons: 0n, tx_prod: 0n, tx_cons: 0n, host_flags: 0, agent_flags: 0 }), 0x1000);
}
function hostPut(m: ReturnType<typeof memory>, at: number, conn: number, kind: number, payload: Uint8Array, reserved = 0): number {
  const rec = new Uint8Array(12 + payload.length);
  rec.set(NIC_RECORD_HEADER.serialize({ conn, kind, length: payload.length }));
  rec[6] = reserved;
  rec.set(payload, 12);
  for (let i = 0; i < rec.length; i++) m.bytes[0x10000 + ((at + i) % 256)] = rec[i]!;
  const prod = at + rec.length;
  m.dv.setBigUint64(0x1010, BigInt(prod), true);
  return prod;
}

test("attach: a blank page is initialised, a host-initialised page is adopted", () => {
  const m = memory();
  const d = new NicDriver(NIC);
  assert.equal(d.attach(m.mem), "initialised");
  assert.equal(m.dv.getUint32(0x1000, true), NIC_MAGIC);
  assert.equal(m.dv.getUint32(0x1008, true), 256);
  const m2 = memory();
  hostInit(m2);
  assert.equal(new NicDriver(NIC).attach(m2.mem), "adopted");
});

test("RX: records come out whole and in order, across the ring's end; partial records wait", () => {
  const m = memory();
  hostInit(m);
  const d = new NicDriver(NIC);
  d.attach(m.mem);
  let prod = hostPut(m, 0, 1, NIC_RECORD_KIND.OPEN, new TextEncoder().encode("1.2.3.4:5"));
  prod = hostPut(m, prod, 1, NIC_RECORD_KIND.DATA, new Uint8Array(100).fill(7));
  assert.equal(d.nextRx(m.mem)?.kind, NIC_RECORD_KIND.OPEN);
  const r = d.nextRx(m.mem)!;
  assert.equal(r.payload.length, 100);
  assert.equal(d.nextRx(m.mem), undefined);
  assert.equal(m.dv.getBigUint64(0x1018, true), BigInt(prod), "RX_CONS mirrored");
  // Wraps: 233 bytes used so far; this 112-byte record crosses 256.
  const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
  const end = hostPut(m, prod, 2, NIC_RECORD_KIND.DATA, payload);
  // Publish only part of it first.
  m.dv.setBigUint64(0x1010, BigInt(end - 5), true);
  assert.equal(d.nextRx(m.mem), undefined);
  m.dv.setBigUint64(0x1010, BigInt(end), true);
  assert.deepEqual(d.nextRx(m.mem)?.payload, payload);
  assert.equal(d.stats.rxRecords, 3);
});

test("RX: every host protocol violation is a NicError", () => {
  const cases: [string, (m: ReturnType<typeof memory>) => void][] = [
    ["bad magic", (m) => m.dv.setUint32(0x1000, 0, true)],
    ["bad sizes", (m) => m.dv.setUint32(0x1008, 512, true)],
    ["producer over capacity", (m) => m.dv.setBigUint64(0x1010, 300n, true)],
    ["huge producer", (m) => m.dv.setBigUint64(0x1010, 1n << 60n, true)],
    ["unknown kind", (m) => hostPut(m, 0, 1, 9, new Uint8Array(0))],
    ["reserved set", (m) => hostPut(m, 0, 1, NIC_RECORD_KIND.DATA, new Uint8Array(1), 1)],
    ["CLOSE with payload", (m) => hostPut(m, 0, 1, NIC_RECORD_KIND.CLOSE, new Uint8Array(1))],
    ["OPEN too long", (m) => hostPut(m, 0, 1, NIC_RECORD_KIND.OPEN, new Uint8Array(MAX_OPEN_PAYLOAD + 1))],
  ];
  for (const [what, f] of cases) {
    const m = memory();
    hostInit(m);
    const d = new NicDriver(NIC);
    d.attach(m.mem);
    f(m);
    assert.throws(() => d.nextRx(m.mem), NicError, what);
  }
  // A producer running backwards.
  const m = memory();
  hostInit(m);
  const d = new NicDriver(NIC);
  d.attach(m.mem);
  const p = hostPut(m, 0, 1, NIC_RECORD_KIND.DATA, new Uint8Array(10));
  d.nextRx(m.mem);
  m.dv.setBigUint64(0x1010, BigInt(p - 1), true);
  assert.throws(() => d.nextRx(m.mem), NicError);
  // Recovery skips what was published.
  m.dv.setBigUint64(0x1010, BigInt(p + 30), true);
  d.recover(m.mem);
  assert.equal(d.rxConsumed, p + 30);
  assert.equal(d.stats.errors, 1);
});

test("TX: records with wrap, a full ring refuses, a lying consumer is a NicError", () => {
  const m = memory();
  hostInit(m);
  const d = new NicDriver(NIC);
  d.attach(m.mem);
  assert.equal(d.txFree(m.mem), 256);
  assert.ok(d.putTx(m.mem, 3, NIC_RECORD_KIND.DATA, new Uint8Array(200).fill(1)));
  assert.ok(!d.putTx(m.mem, 3, NIC_RECORD_KIND.DATA, new Uint8Array(50)), "no room");
  m.dv.setBigUint64(0x1028, 212n, true); // the host consumed it
  assert.ok(d.putTx(m.mem, 3, NIC_RECORD_KIND.DATA, Uint8Array.from({ length: 60 }, (_, i) => i)));
  assert.equal(m.dv.getBigUint64(0x1020, true), 284n);
  // The second record's header starts at 212 and its payload wraps.
  const h = NIC_RECORD_HEADER.parse(m.bytes.slice(0x20000 + 212, 0x20000 + 224));
  assert.deepEqual(h, { conn: 3, kind: NIC_RECORD_KIND.DATA, length: 60 });
  assert.equal(m.bytes[0x20000 + ((224 + 59) % 256)], 59);
  m.dv.setBigUint64(0x1028, 300n, true);
  assert.throws(() => d.txFree(m.mem), NicError);
});

test("TX: records from spans (header from scratch, payload copied once), published with one producer write; incomplete records are refused", () => {
  const m = memory();
  hostInit(m);
  const d = new NicDriver(NIC);
  d.attach(m.mem);
  m.dv.setBigUint64(0x1020, 200n, true); // start near the end of the ring, so records wrap
  m.dv.setBigUint64(0x1028, 200n, true);
  const d2 = new NicDriver(NIC);
  assert.equal(d2.attach(m.mem), "adopted");
  let writes = 0;
  const counting = { ...m.mem, writeFrom: (g: Gpa, src: Uint8Array, off: number, len: number) => (writes++, m.mem.writeFrom(g, src, off, len)) };
  const a = Uint8Array.from({ length: 40 }, (_, i) => i);
  const b = Uint8Array.from({ length: 30 }, (_, i) => 100 + i);
  d2.txHeader(counting, 7, NIC_RECORD_KIND.DATA, 50);
  d2.txPayload(counting, a, 10, 30);
  d2.txPayload(counting, b, 0, 20);
  d2.txHeader(counting, 7, NIC_RECORD_KIND.CLOSE, 0);
  assert.equal(m.dv.getBigUint64(0x1020, true), 200n, "nothing published yet");
  d2.txPublish(counting);
  assert.equal(m.dv.getBigUint64(0x1020, true), 200n + 12n + 50n + 12n);
  const ring = (at: number, n: number) => Uint8Array.from({ length: n }, (_, i) => m.bytes[0x20000 + ((at + i) % 256)]!);
  assert.deepEqual(ring(200, 12), NIC_RECORD_HEADER.serialize({ conn: 7, kind: NIC_RECORD_KIND.DATA, length: 50 }));
  assert.deepEqual(ring(212, 50), Uint8Array.from([...a.subarray(10, 40), ...b.subarray(0, 20)]));
  assert.deepEqual(ring(262, 12), NIC_RECORD_HEADER.serialize({ conn: 7, kind: NIC_RECORD_KIND.CLOSE, length: 0 }));
  // Writes: header, wrapped payload pieces, header, counter — no per-byte or per-record buffers of the driver's own.
  assert.ok(writes <= 7, `${writes} writes`);
  d2.txHeader(m.mem, 1, NIC_RECORD_KIND.DATA, 5);
  assert.throws(() => d2.txPublish(m.mem), RangeError);
  assert.throws(() => d2.txHeader(m.mem, 1, NIC_RECORD_KIND.DATA, 5), RangeError);
  assert.throws(() => d2.txPayload(m.mem, a, 0, 6), RangeError);
  d2.txPayload(m.mem, a, 0, 5);
  d2.txPublish(m.mem);
  assert.throws(() => d2.txHeader(m.mem, 1, NIC_RECORD_KIND.CLOSE, 3), RangeError);
});

test("TX: a write into the ring that faults leaves nothing published; after txAbandon the next record goes where the last published one ended", () => {
  const m = memory();
  hostInit(m);
  const d = new NicDriver(NIC);
  d.attach(m.mem);
  assert.ok(d.putTx(m.mem, 1, NIC_RECORD_KIND.DATA, new Uint8Array(8).fill(1)));
  let fail = true;
  const faulty = { ...m.mem, writeFrom: (g: Gpa, src: Uint8Array, off: number, len: number) => {
    if (fail && len > 12) throw new Error("the host took the page");
    m.mem.writeFrom(g, src, off, len);
  } };
  d.txHeader(faulty, 2, NIC_RECORD_KIND.DATA, 40);
  assert.throws(() => d.txPayload(faulty, new Uint8Array(40), 0, 40));
  d.txAbandon();
  assert.equal(m.dv.getBigUint64(0x1020, true), 20n, "only the first record is published");
  fail = false;
  assert.ok(d.putTx(m.mem, 3, NIC_RECORD_KIND.DATA, Uint8Array.of(9, 9)));
  assert.equal(m.dv.getBigUint64(0x1020, true), 34n);
  assert.deepEqual(NIC_RECORD_HEADER.parse(m.bytes.slice(0x20000 + 20, 0x20000 + 32)), { conn: 3, kind: NIC_RECORD_KIND.DATA, length: 2 });
});

test("property: arbitrary control pages and ring bytes give records, nothing, or a NicError; reads stay in the shared pages", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 256, maxLength: 256 }), fc.boolean(), (control, ring, valid) => {
      const m = memory();
      m.bytes.set(control, 0x1000);
      if (valid) {
        m.dv.setUint32(0x1000, NIC_MAGIC, true);
        m.dv.setUint32(0x1004, NIC_VERSION, true);
        m.dv.setUint32(0x1008, 256, true);
        m.dv.setUint32(0x100c, 256, true);
        m.dv.setBigUint64(0x1018, 0n, true);
        m.dv.setBigUint64(0x1010, BigInt(control[0x10]! % 250), true);
      }
      m.bytes.set(ring, 0x10000);
      const d = new NicDriver(NIC);
      try {
        if (d.attach(m.mem) === "initialised") return;
        for (let i = 0; i < 40; i++) if (d.nextRx(m.mem) === undefined) break;
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
      for (const [g, len] of m.reads) {
        const inControl = g >= 0x1000n && g + BigInt(len) <= 0x1040n;
        const inRing = g >= 0x10000n && g + BigInt(len) <= 0x10100n;
        assert.ok(inControl || inRing, `read at 0x${g.toString(16)}+${len}`);
      }
    }),
    { numRuns: RUNS },
  );
});
