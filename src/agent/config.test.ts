import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { DecodeError, PAGE_SIZE } from "../shared/base/index.js";
import { CONFIG_HEADER_SIZE, ConfigError, DEFAULT_LIMITS, decodeAgentConfig, encodeAgentConfig } from "./config.js";
import type { AgentConfig } from "./config.js";

const spki = (curve: string) => new Uint8Array(generateKeyPairSync("ec", { namedCurve: curve }).publicKey.export({ format: "der", type: "spki" }));
const base = (over: Partial<AgentConfig> = {}): AgentConfig => ({
  ownerKey: spki("P-256"),
  legacyV0: false,
  limits: DEFAULT_LIMITS,
  memoryBytes: 256n << 20n,
  vcpus: 4,
  ...over,
});
const code = (c: string) => (e: unknown) => e instanceof ConfigError && e.code === c;

test("encode/decode round trip, P-256 and P-384 owner keys, with and without v0, no key", () => {
  for (const cfg of [base(), base({ ownerKey: spki("P-384"), legacyV0: true }), base({ ownerKey: undefined })]) {
    const b = encodeAgentConfig(cfg);
    assert.equal(b.length, CONFIG_HEADER_SIZE + (cfg.ownerKey?.length ?? 0));
    assert.deepEqual(decodeAgentConfig(b), cfg);
    // As a whole page (the measured launch page is zero-padded).
    const page = new Uint8Array(PAGE_SIZE);
    page.set(b);
    assert.deepEqual(decodeAgentConfig(page), cfg);
  }
});

test("layout offsets as documented", () => {
  const b = encodeAgentConfig(base({ legacyV0: true }));
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(0, true), 0x47464337);
  assert.equal(String.fromCharCode(...b.subarray(0, 4)), "7CFG");
  assert.equal(dv.getUint16(4, true), 1);
  assert.equal(dv.getUint16(6, true), 1);
  assert.equal(dv.getBigUint64(8, true), 256n << 20n);
  assert.equal(dv.getUint32(0x10, true), 4);
  assert.equal(dv.getUint32(0x14, true), DEFAULT_LIMITS.maxFrameBytes);
  assert.equal(dv.getUint32(0x24, true), DEFAULT_LIMITS.maxTraps);
  assert.equal(dv.getUint16(0x2c, true), b.length - 0x40);
  assert.equal(b[0x40], 0x30); // SEQUENCE of the SPKI
});

test("strict decoding: every violation is a ConfigError (a DecodeError)", () => {
  const good = encodeAgentConfig(base());
  const mut = (f: (b: Uint8Array, dv: DataView) => void) => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  assert.throws(() => decodeAgentConfig(good.subarray(0, 10)), code("BAD_LENGTH"));
  assert.throws(() => decodeAgentConfig(new Uint8Array(PAGE_SIZE + 1)), code("BAD_LENGTH"));
  assert.throws(() => decodeAgentConfig(mut((b) => (b[0] = 0))), code("BAD_MAGIC"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint16(4, 2, true))), code("UNSUPPORTED_VERSION"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint16(6, 2, true))), code("RESERVED_NONZERO"));
  assert.throws(() => decodeAgentConfig(mut((b) => (b[0x30] = 1))), code("RESERVED_NONZERO"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint32(0x24, 0, true))), code("BAD_LIMIT"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint32(0x14, 65536, true))), code("BAD_LIMIT"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint32(0x10, 0, true))), code("BAD_SHAPE"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setBigUint64(8, 3n << 20n, true))), code("BAD_SHAPE"));
  assert.throws(() => decodeAgentConfig(mut((_, dv) => dv.setUint16(0x2c, 4000, true))), code("BAD_OWNER_KEY"));
  assert.throws(() => decodeAgentConfig(mut((b) => (b[0x50] = b[0x50]! ^ 0xff))), code("BAD_OWNER_KEY"));
  const padded = new Uint8Array(PAGE_SIZE);
  padded.set(good);
  padded[PAGE_SIZE - 1] = 1;
  assert.throws(() => decodeAgentConfig(padded), code("TRAILING_BYTES"));
  for (const b of [good.subarray(0, 10), new Uint8Array(64)]) {
    try {
      decodeAgentConfig(b);
    } catch (e) {
      assert.ok(e instanceof DecodeError);
    }
  }
});

test("owner keys other than EC P-256/P-384 are refused at encode", () => {
  const rsa = new Uint8Array(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" }));
  assert.throws(() => encodeAgentConfig(base({ ownerKey: rsa })), code("BAD_OWNER_KEY"));
  assert.throws(() => encodeAgentConfig(base({ ownerKey: spki("secp256k1") })), code("BAD_OWNER_KEY"));
  const ed = new Uint8Array(generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }));
  assert.throws(() => encodeAgentConfig(base({ ownerKey: ed })), code("BAD_OWNER_KEY"));
  assert.throws(() => encodeAgentConfig(base({ limits: { ...DEFAULT_LIMITS, maxRangeBytes: DEFAULT_LIMITS.maxBatchBytes * 2 } })), code("BAD_LIMIT"));
});
