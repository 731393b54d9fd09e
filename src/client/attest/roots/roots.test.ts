import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { commonName } from "../certificate.js";
import { builtinChain } from "../trust-store.js";
import { AMD_BUILTIN_PEM } from "./index.js";
import { readVector } from "../testing/vectors.js";
import { decodeCertificates } from "../certificate.js";
import { bytesEqual } from "../../../shared/base/index.js";

// SNP.md §2.1, copied by hand.
const ARK_SHA256 = {
  milan: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
  genoa: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
  turin: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
} as const;

for (const [product, fp] of Object.entries(ARK_SHA256) as Array<[keyof typeof ARK_SHA256, string]>) {
  const name = product[0]!.toUpperCase() + product.slice(1);

  test(`built-in ${name} ARK has the pinned SHA-256 fingerprint`, () => {
    assert.equal(builtinChain(product).ark.fingerprint, fp);
  });

  test(`built-in ${name} ARK → ASK and ARK → ASVK verify with OpenSSL and carry AMD's names`, () => {
    const pem = AMD_BUILTIN_PEM[product];
    const ark = new X509Certificate(pem.ark);
    const ask = new X509Certificate(pem.ask);
    const asvk = new X509Certificate(pem.asvk);
    assert.ok(ark.verify(ark.publicKey));
    assert.ok(ask.verify(ark.publicKey));
    assert.ok(asvk.verify(ark.publicKey));
    const b = builtinChain(product);
    assert.equal(commonName(b.ark.subject), `ARK-${name}`);
    assert.equal(commonName(b.ask.subject), `SEV-${name}`);
    assert.equal(commonName(b.asvk.subject), `SEV-VLEK-${name}`);
  });

  test(`built-in ${name} certificates are byte-identical to ../shared/vectors`, () => {
    const b = builtinChain(product);
    const [tAsk, tArk, tAsvk] = decodeCertificates(readVector(`trustee/${product}_ask_ark_asvk.pem`));
    assert.ok(bytesEqual(b.ask.der, tAsk!));
    assert.ok(bytesEqual(b.ark.der, tArk!));
    assert.ok(bytesEqual(b.asvk.der, tAsvk!));
    const [vArk] = decodeCertificates(readVector(`amd-trust/${product}_ark.pem`));
    assert.ok(bytesEqual(b.ark.der, vArk!));
  });
}

test("built-in chains are frozen", () => {
  assert.ok(Object.isFrozen(AMD_BUILTIN_PEM));
  assert.ok(Object.isFrozen(builtinChain("milan")));
});
