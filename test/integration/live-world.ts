/**
 * Helpers for the live integration tests: a simulated world (src/app/world) with a fresh
 * owner key, started and booted, plus the target.json and key files the CLI reads.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../src/shared/base/index.js";
import { createWorld, type World, type WorldOptions } from "../../src/app/world/world.js";
import { ownerIdentity, type OwnerIdentity } from "../../src/client/index.js";

export interface LiveWorld {
  readonly world: World;
  readonly owner: OwnerIdentity;
  readonly endpoint: string;
  readonly dir: string;
  readonly targetFile: string;
  readonly keyFile: string;
  readonly arkFile: string;
}

export async function startWorld(o: WorldOptions = {}): Promise<LiveWorld> {
  const key = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const owner = ownerIdentity(key.privateKey);
  const world = await createWorld({ ...(o.sev === false ? {} : { ownerKey: owner.publicKeyDer }), ...o });
  world.start();
  const until = performance.now() + 60_000;
  while (!(world.guest.booted && world.guest.scenarios.every((s) => s.status !== "pending")) && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  const dir = await mkdtemp(join(tmpdir(), "seven-live-"));
  const keyFile = join(dir, "owner.key.pem");
  await writeFile(keyFile, key.privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  const arkFile = join(dir, "ark.pem");
  const sev = world.mode === "sev-snp";
  if (sev) await writeFile(arkFile, world.arkPem()!);
  const endpoint = `${world.endpoint.host}:${world.endpoint.port}`;
  const targetFile = join(dir, "target.json");
  await writeFile(
    targetFile,
    JSON.stringify({
      format: "seven-target/1",
      endpoint,
      mode: world.mode,
      measurement: sev ? toHex(world.measurement!) : null,
      trustRoot: sev ? "ark.pem" : null,
      product: sev ? "milan" : null,
      ownerKey: sev ? { publicKey: null, privateKey: "owner.key.pem", generated: true } : null,
    }),
  );
  return { world, owner, endpoint, dir, targetFile, keyFile, arkFile };
}
