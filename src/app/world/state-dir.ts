/**
 * The state directory of `seven host`: the simulated AMD root (ark.pem, a trust root the
 * owner must opt into), the owner key pair when the host generated one (ECDSA P-384, PEM;
 * the private key mode 0600; reused on the next start so the measurement stays the same),
 * and target.json — everything a client needs to reach and check the target.
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toHex } from "../../shared/base/index.js";
import { WorldError } from "./errors.js";

export const TARGET_FORMAT = "seven-target/1";
export const OWNER_PUBLIC_FILE = "owner.pub.pem";
export const OWNER_PRIVATE_FILE = "owner.key.pem";
export const ARK_FILE = "ark.pem";
export const TARGET_FILE = "target.json";

export interface TargetJson {
  readonly format: typeof TARGET_FORMAT;
  /** "HOST:PORT" of the agent (SEV) or of the host's baseline VMI server (plain). */
  readonly endpoint: string;
  /** "sev-snp": attested agent over TLS; "plain": the non-confidential baseline over plain TCP. */
  readonly mode: "sev-snp" | "plain";
  /** Expected launch measurement (hex, 48 bytes); null in plain mode. */
  readonly measurement: string | null;
  /** The simulated ARK (absolute path); null in plain mode. */
  readonly trustRoot: string | null;
  readonly product: string | null;
  readonly policy: string | null;
  readonly hostData: string | null;
  readonly vcpus: number;
  readonly memoryBytes: string;
  readonly legacyV0: boolean;
  readonly ownerKey: { readonly publicKey: string; readonly privateKey?: string; readonly generated: boolean } | null;
  readonly groundTruth: string | null;
}

export function ensureDir(dir: string): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
  } catch (e) {
    throw new WorldError("BAD_STATE_DIR", `cannot create the state directory ${abs}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { dir: abs }, 1);
  }
  return abs;
}

/** The owner key pair of the state dir: reused when present, else generated. Returns SPKI DER and paths. */
export function ownerKeyPair(dir: string): { spki: Uint8Array; publicKey: string; privateKey: string; generated: boolean } {
  const pub = join(dir, OWNER_PUBLIC_FILE);
  const priv = join(dir, OWNER_PRIVATE_FILE);
  if (existsSync(pub) && existsSync(priv)) {
    try {
      const k = createPublicKey({ key: readFileSync(priv, "utf8"), format: "pem" });
      const fromPub = createPublicKey({ key: readFileSync(pub, "utf8"), format: "pem" });
      const der = new Uint8Array(k.export({ format: "der", type: "spki" }));
      if (toHex(der) === toHex(new Uint8Array(fromPub.export({ format: "der", type: "spki" })))) {
        return { spki: der, publicKey: pub, privateKey: priv, generated: false };
      }
    } catch {
      // fall through: regenerate
    }
  }
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  writeAtomic(priv, privateKey.export({ format: "pem", type: "pkcs8" }) as string, 0o600);
  writeAtomic(pub, publicKey.export({ format: "pem", type: "spki" }) as string, 0o644);
  return { spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })), publicKey: pub, privateKey: priv, generated: true };
}

export function writeAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function writeTarget(dir: string, t: TargetJson): string {
  const path = join(dir, TARGET_FILE);
  writeAtomic(path, JSON.stringify(t, null, 2) + "\n");
  return path;
}
