import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeVarint, encodeFrame, encodeFrames, encodeVarint, FrameDecoder, FramingError, varintLength } from "./framing.js";

test("varints: known encodings and round trips at the edges", () => {
  assert.deepEqual([...encodeVarint(0)], [0]);
  assert.deepEqual([...encodeVarint(1)], [1]);
  assert.deepEqual([...encodeVarint(127)], [0x7f]);
  assert.deepEqual([...encodeVarint(128)], [0x80, 0x01]);
  assert.deepEqual([...encodeVarint(300)], [0xac, 0x02]);
  assert.deepEqual([...encodeVarint((1n << 64n) - 1n)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  for (const v of [0n, 1n, 127n, 128n, 16383n, 16384n, (1n << 32n) - 1n, (1n << 63n), (1n << 64n) - 1n]) {
    const e = encodeVarint(v);
    assert.deepEqual(decodeVarint(e), { value: v, length: e.length });
  }
  for (const n of [0, 127, 128, 16383, 16384, 2 ** 21, 2 ** 35]) assert.equal(varintLength(n), encodeVarint(n).length);
  assert.throws(() => encodeVarint(-1), RangeError);
  assert.throws(() => encodeVarint(1n << 64n), RangeError);
});

test("decodeVarint: incomplete is undefined, overlong and overflowing are BAD_VARINT", () => {
  assert.equal(decodeVarint(Uint8Array.of(0x80, 0x80)), undefined);
  assert.throws(() => decodeVarint(new Uint8Array(11).fill(0x80)), (e: unknown) => e instanceof FramingError && e.code === "BAD_VARINT");
  // 10th byte may only carry bit 63.
  assert.throws(() => decodeVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)), (e: unknown) => e instanceof FramingError && e.code === "BAD_VARINT");
});

test("encodeFrame puts prefix and message in one buffer", () => {
  const m = new Uint8Array(300).fill(7);
  const f = encodeFrame(m);
  assert.deepEqual([...f.subarray(0, 2)], [0xac, 0x02]);
  assert.equal(f.length, 302);
  assert.deepEqual(encodeFrames([m, Uint8Array.of(1)]), Uint8Array.from([...f, 1, 1]));
});

test("decoder: frames split byte by byte come out whole and in order", () => {
  const msgs = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(200).fill(9)];
  const stream = encodeFrames(msgs);
  const d = new FrameDecoder({ maxFrameBytes: 1000 });
  const out: Uint8Array[] = [];
  for (const b of stream) {
    d.push(Uint8Array.of(b));
    out.push(...d.drain());
  }
  assert.deepEqual(out, msgs);
  assert.equal(d.buffered, 0);
});

test("decoder: pushed bytes are copied unless adoptPushed (then kept as they are: no copy per push)", () => {
  for (const adoptPushed of [false, true]) {
    const d = new FrameDecoder({ maxFrameBytes: 100, adoptPushed });
    const first = Uint8Array.of(4, 1, 2); // prefix (4) and half of the message
    d.push(first);
    first.fill(7); // the caller reuses its buffer
    d.push(Uint8Array.of(3, 4));
    assert.deepEqual(d.next(), adoptPushed ? Uint8Array.of(7, 7, 3, 4) : Uint8Array.of(1, 2, 3, 4), `adoptPushed ${adoptPushed}`);
    assert.equal(d.buffered, 0);
  }
});

test("decoder: a length over the limit fails at the prefix, before the body arrives, and stays failed", () => {
  const d = new FrameDecoder({ maxFrameBytes: 100 });
  assert.throws(() => d.push(encodeVarint(101)), (e: unknown) => e instanceof FramingError && e.code === "FRAME_TOO_LARGE");
  assert.ok(d.failed);
  assert.throws(() => d.next(), (e: unknown) => e instanceof FramingError && e.code === "FRAME_TOO_LARGE");
  assert.throws(() => d.push(Uint8Array.of(0)), FramingError);
  assert.equal(d.buffered, 0);
});

test("decoder: exactly the limit is accepted", () => {
  const d = new FrameDecoder({ maxFrameBytes: 100 });
  d.push(encodeFrame(new Uint8Array(100)));
  assert.equal(d.next()?.length, 100);
});

test("decoder: malformed varint prefix is BAD_VARINT", () => {
  const d = new FrameDecoder({ maxFrameBytes: 100 });
  assert.throws(() => d.push(new Uint8Array(12).fill(0xff)), (e: unknown) => e instanceof FramingError && e.code === "BAD_VARINT");
});

test("decoder: pushing past the buffer bound is BUFFER_FULL", () => {
  const d = new FrameDecoder({ maxFrameBytes: 10, maxBufferedBytes: 40 });
  // Many complete small frames never pulled.
  d.push(encodeFrames(Array.from({ length: 5 }, () => new Uint8Array(5))));
  assert.throws(() => d.push(new Uint8Array(20)), (e: unknown) => e instanceof FramingError && e.code === "BUFFER_FULL");
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 100, maxBufferedBytes: 50 }), RangeError);
});

test("decoder: a valid frame before a bad prefix is still delivered", () => {
  const d = new FrameDecoder({ maxFrameBytes: 10 });
  d.push(Uint8Array.from([...encodeFrame(Uint8Array.of(5)), ...encodeVarint(11)]));
  assert.deepEqual(d.next(), Uint8Array.of(5));
  assert.throws(() => d.next(), (e: unknown) => e instanceof FramingError && e.code === "FRAME_TOO_LARGE");
});
