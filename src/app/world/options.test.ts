import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { toHex } from "../../shared/base/index.js";
import { WorldError } from "./errors.js";
import { parseListen, parseMemory, parseSize, readOwnerKey } from "./options.js";
import { ownerKeyPair } from "./state-dir.js";

const code = (c: string, exit: number) => (e: unknown) => e instanceof WorldError && e.code === c && e.exitCode === exit;

test("sizes", () => {
  assert.equal(parseSize("256M"), 256n << 20n);
  assert.equal(parseSize("256MiB"), 256n << 20n);
  assert.equal(parseSize("1g"), 1n << 30n);
  assert.equal(parseSize("65536K"), 64n << 20n);
  assert.equal(parseSize("268435456"), 256n << 20n);
  for (const bad of ["", "abc", "1.5G", "-1M", "12X", "M", "1 G B"]) assert.throws(() => parseSize(bad), code("BAD_SIZE", 2), bad);
  assert.throws(() => parseMemory("63M"), code("BAD_SIZE", 2));
  assert.throws(() => parseMemory("65M"), code("BAD_SIZE", 2), "not a multiple of 2 MiB");
  assert.equal(parseMemory("64M"), 64n << 20n);
});

test("listen addresses", () => {
  assert.deepEqual(parseListen("127.0.0.1:7707"), { host: "127.0.0.1", port: 7707 });
  assert.deepEqual(parseListen(":0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen("9000"), { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseListen("[::1]:80"), { host: "::1", port: 80 });
  for (const bad of ["host:", "host:99999", "a:b"]) assert.throws(() => parseListen(bad), code("BAD_LISTEN", 2), bad);
});

test("owner keys: PEM and DER public keys; a private key, a missing file or another curve are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "seven-key-"));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const der = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  writeFileSync(join(dir, "k.pub"), publicKey.export({ format: "pem", type: "spki" }));
  writeFileSync(join(dir, "k.der"), der);
  writeFileSync(join(dir, "k.key"), privateKey.export({ format: "pem", type: "pkcs8" }));
  writeFileSync(join(dir, "junk.pub"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  writeFileSync(join(dir, "rsa.pub"), rsa.publicKey.export({ format: "pem", type: "spki" }));
  assert.equal(toHex(readOwnerKey(join(dir, "k.pub"))), toHex(der));
  assert.equal(toHex(readOwnerKey(join(dir, "k.der"))), toHex(der));
  assert.equal(toHex(readOwnerKey(join(dir, "k.key"), { allowPrivate: true })), toHex(der));
  for (const f of ["k.key", "missing.pub", "junk.pub", "rsa.pub"]) assert.throws(() => readOwnerKey(join(dir, f)), code("BAD_OWNER_KEY", 2), f);
});

test("a generated owner key pair: P-384, private key 0600, reused on the next start", () => {
  const dir = mkdtempSync(join(tmpdir(), "seven-state-"));
  const a = ownerKeyPair(dir);
  assert.equal(a.generated, true);
  assert.equal(statSync(a.privateKey).mode & 0o777, 0o600);
  assert.equal(toHex(readOwnerKey(a.publicKey)), toHex(a.spki));
  const b = ownerKeyPair(dir);
  assert.equal(b.generated, false);
  assert.equal(toHex(b.spki), toHex(a.spki));
});
