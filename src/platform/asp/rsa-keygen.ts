/**
 * Deterministic RSA-4096 keys for the simulated ARK and ASK.
 *
 * Node cannot generate an RSA key from a seed, so the key is built by hand:
 *  1. for each prime, a 2048-bit starting point is read from the SeededRng (top two bits set
 *     so that n = p·q has exactly 4096 bits, low bit set);
 *  2. the odd numbers start, start+2, … (a window of 8192) are sieved with the first 2048 odd
 *     primes, and those with p ≡ 1 (mod 65537) are skipped (e = 65537 must be invertible
 *     mod p−1); the survivors are tested in order with node:crypto `checkPrimeSync`
 *     (OpenSSL's Miller–Rabin with its default round count); the first that passes is the
 *     prime (no prime in the window: draw a new start);
 *  3. n = p·q, d = e⁻¹ mod lcm(p−1, q−1), and the CRT values dp, dq, qi make a JWK that
 *     `createPrivateKey` imports.
 * The same stream gives the same primes, so the same seed gives the same key.
 *
 * Generation takes on the order of a second per key, so keys are cached: in memory for the
 * life of the process, and on disk under `os.tmpdir()/00seven-asp-keys/` in a file named by
 * the SHA-256 of the first 32 bytes of the candidate stream (a fingerprint of the seed that
 * does not reveal it). A cached file is re-checked (sizes, a sign/verify round trip) before
 * use; anything wrong with it means "regenerate". `SEVEN_ASP_KEY_CACHE=0` disables the disk cache.
 */
import { checkPrimeSync, createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SeededRng } from "../../shared/base/index.js";

export const RSA_BITS = 4096;
export const RSA_E = 65537n;
const PRIME_BYTES = RSA_BITS / 16;

export interface RsaKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  /** The PKCS#1 RSAPublicKey DER (what the subject key identifier hashes). */
  readonly rsaPublicKey: Uint8Array;
}

export interface RsaKeygenOptions {
  /** Use (and fill) the in-memory and disk caches. Default true. */
  readonly cache?: boolean;
  /** Directory of the disk cache. Default `os.tmpdir()/00seven-asp-keys`. */
  readonly cacheDir?: string;
}

export interface RsaKeygenStats {
  /** Where the key came from. */
  readonly source: "memory" | "disk" | "generated";
  /** Odd numbers examined by the sieve (generated keys only). */
  readonly candidates: number;
  /** Candidates given to checkPrimeSync. */
  readonly primalityTests: number;
}

const memory = new Map<string, RsaKeyPair>();
const CACHE_FORMAT = "rsa4096-sieve-v2";

/** The cache key of the stream: SHA-256 of its first 32 bytes (taken from a fork, so `rng` does not move). */
export function rsaSeedFingerprint(rng: SeededRng): string {
  const probe = rng.fork("fingerprint").bytes(32);
  return createHash("sha256").update(CACHE_FORMAT).update(probe).digest("hex");
}

/** The deterministic RSA-4096 key of `rng`'s stream. `rng` itself is not consumed (a fork is). */
export function deterministicRsaKey(rng: SeededRng, opts: RsaKeygenOptions = {}): { key: RsaKeyPair; stats: RsaKeygenStats } {
  const useCache = opts.cache ?? true;
  const fp = rsaSeedFingerprint(rng);
  if (useCache) {
    const hit = memory.get(fp);
    if (hit !== undefined) return { key: hit, stats: { source: "memory", candidates: 0, primalityTests: 0 } };
  }
  const dir = opts.cacheDir ?? join(tmpdir(), "00seven-asp-keys");
  const diskOn = useCache && process.env.SEVEN_ASP_KEY_CACHE !== "0";
  if (diskOn) {
    const cached = readCached(join(dir, `${fp}.json`));
    if (cached !== undefined) {
      memory.set(fp, cached.key);
      return { key: cached.key, stats: { source: "disk", candidates: 0, primalityTests: 0 } };
    }
  }
  const stream = rng.fork("primes");
  const counters = { candidates: 0, primalityTests: 0 };
  const p = nextPrime(stream, counters);
  let q = nextPrime(stream, counters);
  while (q === p) q = nextPrime(stream, counters);
  const key = buildKey(p, q);
  if (useCache) memory.set(fp, key);
  if (diskOn) writeCached(dir, fp, p, q);
  return { key, stats: { source: "generated", ...counters } };
}

/** The first 2048 odd primes, for the sieve. */
const SIEVE_PRIMES: readonly number[] = (() => {
  const out: number[] = [];
  for (let c = 3; out.length < 2048; c += 2) {
    let prime = true;
    for (const p of out) {
      if (p * p > c) break;
      if (c % p === 0) {
        prime = false;
        break;
      }
    }
    if (prime) out.push(c);
  }
  return out;
})();
const SIEVE_WINDOW = 8192;
const PRIME_LIMIT = 1n << BigInt(8 * PRIME_BYTES);

function nextPrime(stream: SeededRng, c: { candidates: number; primalityTests: number }): bigint {
  for (;;) {
    const b = stream.bytes(PRIME_BYTES);
    b[0]! |= 0xc0;
    b[PRIME_BYTES - 1]! |= 1;
    const start = toBigint(b);
    // composite[k] ⇔ start + 2k has a factor among SIEVE_PRIMES.
    const composite = new Uint8Array(SIEVE_WINDOW);
    for (const p of SIEVE_PRIMES) {
      const r = Number(start % BigInt(p));
      // start + 2k ≡ 0 (mod p)  ⇔  k ≡ (p − r)·2⁻¹ (mod p), 2⁻¹ = (p + 1)/2.
      let k = ((p - r) * ((p + 1) / 2)) % p;
      for (; k < SIEVE_WINDOW; k += p) composite[k] = 1;
    }
    for (let k = 0; k < SIEVE_WINDOW; k++) {
      c.candidates++;
      if (composite[k] === 1) continue;
      const cand = start + 2n * BigInt(k);
      if (cand >= PRIME_LIMIT) break;
      if (cand % RSA_E === 1n) continue;
      c.primalityTests++;
      if (checkPrimeSync(cand)) return cand;
    }
  }
}

function buildKey(p: bigint, q: bigint): RsaKeyPair {
  const n = p * q;
  const lambda = lcm(p - 1n, q - 1n);
  const d = modInverse(RSA_E, lambda);
  const jwk = {
    kty: "RSA",
    n: b64u(n),
    e: b64u(RSA_E),
    d: b64u(d),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(d % (p - 1n)),
    dq: b64u(d % (q - 1n)),
    qi: b64u(modInverse(q, p)),
  };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    rsaPublicKey: new Uint8Array(publicKey.export({ type: "pkcs1", format: "der" })),
  };
}

function readCached(file: string): { p: bigint; q: bigint; key: RsaKeyPair } | undefined {
  try {
    const j: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof j !== "object" || j === null) return undefined;
    const o = j as Record<string, unknown>;
    if (o.format !== CACHE_FORMAT || typeof o.p !== "string" || typeof o.q !== "string") return undefined;
    if (!/^[0-9a-f]{512}$/.test(o.p) || !/^[0-9a-f]{512}$/.test(o.q)) return undefined;
    const p = BigInt("0x" + o.p);
    const q = BigInt("0x" + o.q);
    if (p === q || p >> 2046n !== 3n || q >> 2046n !== 3n) return undefined;
    if (p % RSA_E === 1n || q % RSA_E === 1n) return undefined;
    const key = buildKey(p, q);
    // A sign/verify round trip catches a corrupted file (wrong CRT values give wrong signatures)
    // in a few milliseconds; re-proving primality would cost as much as half a generation.
    const probe = Buffer.from(CACHE_FORMAT);
    if (!verify("sha384", probe, key.publicKey, sign("sha384", probe, key.privateKey))) return undefined;
    return { p, q, key };
  } catch {
    return undefined;
  }
}

function writeCached(dir: string, fp: string, p: bigint, q: bigint): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const body = JSON.stringify({ format: CACHE_FORMAT, p: p.toString(16).padStart(512, "0"), q: q.toString(16).padStart(512, "0") });
    const tmp = join(dir, `${fp}.${process.pid}.${Date.now()}.tmp`);
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, join(dir, `${fp}.json`));
  } catch {
    // The disk cache is an optimisation; an unwritable tmpdir just means regenerating next time.
  }
}

/** Forget the in-memory cache (tests measuring cold generation). */
export function clearRsaKeyMemoryCache(): void {
  memory.clear();
}

function toBigint(b: Uint8Array): bigint {
  return BigInt("0x" + Buffer.from(b).toString("hex"));
}

function b64u(v: bigint): string {
  let h = v.toString(16);
  if (h.length % 2 === 1) h = "0" + h;
  return Buffer.from(h, "hex").toString("base64url");
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}

export function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const qt = r0 / r1;
    [r0, r1] = [r1, r0 - qt * r1];
    [s0, s1] = [s1, s0 - qt * s1];
  }
  if (r0 !== 1n) throw new RangeError("not invertible");
  return ((s0 % m) + m) % m;
}
