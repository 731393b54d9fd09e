/**
 * Parsing of the world's command-line options: sizes ("256M", "1GiB", "268435456"),
 * HOST:PORT, seeds, and the owner's public key file (PEM or DER SubjectPublicKeyInfo).
 */
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { computeLayout } from "../../shared/spec/index.js";
import { WorldError } from "./errors.js";

const UNITS: Record<string, bigint> = { "": 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/** "256M", "256MiB", "1G", "1GB", "65536K", "268435456" → bytes. Throws WorldError BAD_SIZE. */
export function parseSize(s: string, what = "size"): bigint {
  const m = /^\s*(\d+)\s*([kKmMgGtT]?)(i?[bB])?\s*$/.exec(s);
  if (m === null) throw new WorldError("BAD_SIZE", `bad ${what} "${s}": use a number of bytes or e.g. 256M, 1G`, { value: s });
  const unit = UNITS[m[2]!.toUpperCase()]!;
  if (m[2] === "" && m[3] !== undefined && m[3].toLowerCase() === "ib") throw new WorldError("BAD_SIZE", `bad ${what} "${s}"`, { value: s });
  return BigInt(m[1]!) * unit;
}

/** A memory size the launch layout accepts (64 MiB … 64 GiB, a multiple of 2 MiB). */
export function parseMemory(s: string, vcpus = 1): bigint {
  const bytes = parseSize(s, "memory size");
  try {
    computeLayout({ memoryBytes: bytes, vcpus });
  } catch (e) {
    throw new WorldError("BAD_SIZE", `bad memory size "${s}": ${e instanceof Error ? e.message : String(e)}`, { value: s });
  }
  return bytes;
}

export function parseVcpus(s: string): number {
  if (!/^\d+$/.test(s.trim())) throw new WorldError("BAD_OPTION", `bad vCPU count "${s}"`, { value: s });
  const n = Number(s);
  try {
    computeLayout({ memoryBytes: 64n << 20n, vcpus: n });
  } catch (e) {
    throw new WorldError("BAD_OPTION", `bad vCPU count "${s}": ${e instanceof Error ? e.message : String(e)}`, { value: s });
  }
  return n;
}

/** "HOST:PORT", ":PORT", "PORT", "[::1]:PORT" → {host, port} (host defaults to 127.0.0.1). */
export function parseListen(s: string): { host: string; port: number } {
  const t = s.trim();
  const bad = (): WorldError => new WorldError("BAD_LISTEN", `bad listen address "${s}": use HOST:PORT (port 0 picks a free one)`, { value: s });
  let host = "";
  let portText = t;
  const colon = t.lastIndexOf(":");
  if (colon >= 0) {
    host = t.slice(0, colon);
    portText = t.slice(colon + 1);
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    else if (host.includes(":") || host.includes("[") || host.includes("]")) throw bad();
  }
  if (!/^\d{1,5}$/.test(portText)) throw bad();
  const port = Number(portText);
  if (port > 65535) throw bad();
  return { host: host === "" ? "127.0.0.1" : host, port };
}

/**
 * Reads an owner public key (PEM "PUBLIC KEY" or SPKI DER) as canonical SPKI DER. A private
 * key file is refused unless `allowPrivate` (the owner computing a measurement locally).
 */
export function readOwnerKey(path: string, o: { allowPrivate?: boolean } = {}): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new WorldError("BAD_OWNER_KEY", `cannot read the owner key ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path });
  }
  const text = raw.toString("latin1");
  if (text.includes("PRIVATE KEY") && o.allowPrivate !== true) {
    throw new WorldError("BAD_OWNER_KEY", `${path} holds a private key: give the owner's public key (the private key stays with the owner)`, { path });
  }
  try {
    const key = text.includes("-----BEGIN") ? createPublicKey({ key: text, format: "pem" }) : createPublicKey({ key: raw, format: "der", type: "spki" });
    if (key.type !== "public") throw new Error("not a public key");
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (key.asymmetricKeyType !== "ec" || (curve !== "secp384r1" && curve !== "prime256v1")) throw new Error("the owner key must be ECDSA P-384 or P-256");
    return new Uint8Array(key.export({ format: "der", type: "spki" }));
  } catch (e) {
    throw new WorldError("BAD_OWNER_KEY", `the owner key ${path} is not usable: ${e instanceof Error ? e.message : String(e)}`, { path });
  }
}
