import { test } from "node:test";
import assert from "node:assert/strict";
import { constants, verify } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRng } from "../../shared/base/index.js";
import { clearRsaKeyMemoryCache, deterministicRsaKey, modInverse } from "./rsa-keygen.js";
import { signPssDeterministic } from "./rsa-pss.js";

const big = (s: string | undefined) => BigInt("0x" + Buffer.from(s ?? "", "base64url").toString("hex"));

test("deterministic RSA-4096: same stream → same key; a valid key with e = 65537 and 2048-bit primes", () => {
  const a = deterministicRsaKey(new SeededRng("keygen-test").fork("k"), { cache: false });
  const b = deterministicRsaKey(new SeededRng("keygen-test").fork("k"), { cache: false });
  assert.equal(a.stats.source, "generated");
  assert.ok(a.stats.primalityTests >= 2 && a.stats.candidates >= a.stats.primalityTests);
  assert.deepEqual(a.key.spki, b.key.spki);
  const jwk = a.key.privateKey.export({ format: "jwk" });
  const [n, e, d, p, q] = [big(jwk.n), big(jwk.e), big(jwk.d), big(jwk.p), big(jwk.q)];
  assert.equal(e, 65537n);
  assert.equal(n, p * q);
  assert.equal(n.toString(2).length, 4096);
  assert.equal(p.toString(2).length, 2048);
  assert.equal(q.toString(2).length, 2048);
  assert.equal((e * d) % ((p - 1n) * (q - 1n) / gcd(p - 1n, q - 1n)), 1n);
  assert.equal(a.key.privateKey.asymmetricKeyDetails?.modulusLength, 4096);
  const other = deterministicRsaKey(new SeededRng("keygen-test").fork("other"), { cache: false });
  assert.notDeepEqual(other.key.spki, a.key.spki);
});

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

test("the generator reads only forks of the given stream", () => {
  const used = new SeededRng("keygen-fork");
  deterministicRsaKey(used);
  assert.deepEqual(used.bytes(16), new SeededRng("keygen-fork").bytes(16));
});

test("disk cache: a second process-cold call loads the same key; a corrupted file is regenerated", () => {
  const dir = mkdtempSync(join(tmpdir(), "seven-asp-keycache-"));
  try {
    const rng = new SeededRng("keygen-disk").fork("k");
    const first = deterministicRsaKey(rng, { cacheDir: dir });
    clearRsaKeyMemoryCache();
    const second = deterministicRsaKey(rng, { cacheDir: dir });
    assert.equal(second.stats.source, "disk");
    assert.deepEqual(second.key.spki, first.key.spki);
    assert.equal(deterministicRsaKey(rng, { cacheDir: dir }).stats.source, "memory");
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    assert.equal(files.length, 1);
    const f = join(dir, files[0]!);
    for (const junk of ["not json", JSON.stringify({ format: "rsa4096-sieve-v2", p: "ff", q: "ff" }), JSON.stringify({ format: "x" })]) {
      writeFileSync(f, junk);
      clearRsaKeyMemoryCache();
      const again = deterministicRsaKey(rng, { cacheDir: dir });
      assert.equal(again.stats.source, "generated");
      assert.deepEqual(again.key.spki, first.key.spki);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deterministic RSASSA-PSS: identical for identical input, verifies with SHA-384/MGF1/salt 48", () => {
  const { key } = deterministicRsaKey(new SeededRng("keygen-test").fork("k"));
  const salt = new Uint8Array(32).fill(1);
  const msg = new TextEncoder().encode("tbsCertificate");
  const s1 = signPssDeterministic(msg, key.privateKey, salt);
  assert.deepEqual(signPssDeterministic(msg, key.privateKey, salt), s1);
  assert.equal(s1.length, 512);
  const pss = { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 };
  assert.ok(verify("sha384", msg, pss, s1));
  assert.equal(verify("sha384", msg, { ...pss, saltLength: 32 }, s1), false);
  assert.equal(verify("sha384", new TextEncoder().encode("tbsCertificatf"), pss, s1), false);
  const s2 = signPssDeterministic(msg, key.privateKey, new Uint8Array(32).fill(2));
  assert.notDeepEqual(s2, s1, "the salt key changes the salt");
  assert.ok(verify("sha384", msg, pss, s2));
});

test("modInverse", () => {
  assert.equal(modInverse(3n, 11n), 4n);
  assert.equal((65537n * modInverse(65537n, 1000000007n * 998244353n)) % (1000000007n * 998244353n), 1n);
  assert.throws(() => modInverse(6n, 9n), RangeError);
});
