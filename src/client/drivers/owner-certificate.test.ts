import assert from "node:assert/strict";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SessionError } from "./errors.js";
import { loadOwnerIdentity, ownerIdentity } from "./owner-certificate.js";

describe("owner certificate", () => {
  for (const curve of ["prime256v1", "secp384r1"] as const) {
    it(`is a self-signed X.509 v3 certificate over the owner's ${curve} key`, () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      const id = ownerIdentity(privateKey);
      const x = new X509Certificate(Buffer.from(id.certificateDer));
      assert.equal(x.subject, "CN=00SEVen owner");
      assert.equal(x.issuer, x.subject);
      assert.ok(x.verify(x.publicKey), "self-signature verifies");
      assert.deepEqual(new Uint8Array(x.publicKey.export({ format: "der", type: "spki" })), new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
      assert.deepEqual(id.publicKeyDer, new Uint8Array(publicKey.export({ format: "der", type: "spki" })));
      assert.equal(new X509Certificate(id.certificatePem).fingerprint256, x.fingerprint256);
      assert.equal(id.curve, curve);
    });
  }

  it("loads PEM (PKCS#8 and SEC1) and DER key files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "seven-owner-"));
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const want = ownerIdentity(privateKey).publicKeyDer;
    const files: Array<[string, string | Buffer]> = [
      ["pkcs8.pem", privateKey.export({ format: "pem", type: "pkcs8" })],
      ["sec1.pem", privateKey.export({ format: "pem", type: "sec1" })],
      ["pkcs8.der", privateKey.export({ format: "der", type: "pkcs8" })],
    ];
    for (const [name, data] of files) {
      await writeFile(join(dir, name), data);
      assert.deepEqual((await loadOwnerIdentity(join(dir, name))).publicKeyDer, want, name);
    }
  });

  it("refuses RSA keys, public keys, garbage and missing files with BAD_OWNER_KEY", async () => {
    const dir = await mkdtemp(join(tmpdir(), "seven-owner-"));
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const cases: Array<[string, string | Buffer]> = [
      ["rsa.pem", rsa.privateKey.export({ format: "pem", type: "pkcs8" })],
      ["pub.pem", ec.publicKey.export({ format: "pem", type: "spki" })],
      ["junk.pem", "not a key"],
    ];
    for (const [name, data] of cases) {
      await writeFile(join(dir, name), data);
      await assert.rejects(loadOwnerIdentity(join(dir, name)), (e: unknown) => e instanceof SessionError && e.code === "BAD_OWNER_KEY" && e.message.includes(name), name);
    }
    await assert.rejects(loadOwnerIdentity(join(dir, "missing.pem")), (e: unknown) => e instanceof SessionError && e.code === "BAD_OWNER_KEY" && /ENOENT/.test(e.message));
  });
});
