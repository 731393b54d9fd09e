import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { gpa, toHex } from "../../shared/base/index.js";
import {
  ID_AUTH,
  ID_BLOCK,
  decodeSignerInfo,
  derToSignatureField,
  ecdsaPublicKeyStruct,
  parseAttestationReport,
} from "../../shared/spec/index.js";
import type { EcPoint } from "../../shared/spec/index.js";
import { readVectorText } from "./testing/vectors.js";
import { PlatformError } from "../fault.js";
import { SEV_RET } from "./firmware-status.js";
import { openResponsePage, buildRequestPage, reportRequest, reportResponse } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";
import type { LaunchedGuest } from "./testing/launched-guest.js";
import { FakeHardware, testConfig } from "./testing/fake-hardware.js";
import { createSecureProcessor } from "./index.js";

// virtee/sev test-only keys (../shared/vectors/virtee-sev) and their digests, SNP.md §3.5.
const ID_KEY = createPrivateKey(readVectorText("virtee-sev/test_id_key.pem"));
const AUTHOR_KEY = createPrivateKey(readVectorText("virtee-sev/test_auth_key.pem"));
const ID_KEY_DIGEST_B64 = "WfssaG36T+9J84M5qndckAUcKNVzg93DuvO160sUlt87DbvcuuX+J2d6ZEggdz/i";
const AUTHOR_KEY_DIGEST_B64 = "7tgRafsMteDsNHlPEo/U4MSkb2fGWhrfqB/LJLzAiMJyNpt//D6ytq9qQoShs2xf";

function point(key: KeyObject): EcPoint {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const big = (s: string | undefined) => BigInt("0x" + Buffer.from(s ?? "", "base64url").toString("hex"));
  return { x: big(jwk.x), y: big(jwk.y) };
}

const sigField = (data: Uint8Array, key: KeyObject) => derToSignatureField(new Uint8Array(sign("sha384", data, { key, dsaEncoding: "der" })));

interface IdOverrides {
  ld?: Uint8Array;
  policy?: bigint;
  blockSigner?: KeyObject;
  keySigner?: KeyObject;
  author?: boolean;
  idKeyAlgo?: number;
}

/** An ID block over `digest` with ID_AUTH signed by the virtee keys; one field overridable. */
function idBlockFor(digest: Uint8Array, o: IdOverrides = {}) {
  const idBlock = ID_BLOCK.serialize({
    ld: o.ld ?? digest,
    familyId: new Uint8Array(16).fill(0xf1),
    imageId: new Uint8Array(16).fill(0x1a),
    version: 1,
    guestSvn: 7,
    policy: o.policy ?? 0x30000n,
  });
  const idKey = ecdsaPublicKeyStruct(point(ID_KEY));
  const author = o.author ?? true;
  const idAuth = ID_AUTH.serialize({
    idKeyAlgo: o.idKeyAlgo ?? 1,
    authKeyAlgo: author ? 1 : 0,
    idBlockSig: sigField(idBlock, o.blockSigner ?? ID_KEY),
    idKey,
    ...(author ? { idKeySig: sigField(idKey, o.keySigner ?? AUTHOR_KEY), authorKey: ecdsaPublicKeyStruct(point(AUTHOR_KEY)) } : {}),
  });
  return { idBlock, idAuth };
}

function report(g: LaunchedGuest) {
  const key = g.vmpck[0]!;
  g.hw.hostWrite(g.request, buildRequestPage({ key, vmpck: 0, seqno: 1n, payload: reportRequest(new Uint8Array(64), 0) }));
  assert.equal(g.asp.guestRequest(g.request, g.response), SEV_RET.SUCCESS);
  return parseAttestationReport(reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload).report);
}

test("an ID block signed by the ID key (and ID key by the author key) is accepted; the report carries its identity", () => {
  const g = launchGuest(testConfig(), { finish: (d) => ({ ...idBlockFor(d), hostData: new Uint8Array(32).fill(0x44) }) });
  const r = report(g);
  assert.equal(Buffer.from(r.idKeyDigest).toString("base64"), ID_KEY_DIGEST_B64);
  assert.equal(Buffer.from(r.authorKeyDigest).toString("base64"), AUTHOR_KEY_DIGEST_B64);
  assert.equal(decodeSignerInfo(r.signerInfo).authorKeyEn, true);
  assert.equal(toHex(r.familyId), "f1".repeat(16));
  assert.equal(toHex(r.imageId), "1a".repeat(16));
  assert.equal(r.guestSvn, 7);
  assert.equal(toHex(r.hostData), "44".repeat(32));
});

test("without an author key: ID_KEY_DIGEST set, AUTHOR_KEY_DIGEST zero, AUTHOR_KEY_EN clear", () => {
  const g = launchGuest(testConfig(), { finish: (d) => idBlockFor(d, { author: false }) });
  const r = report(g);
  assert.equal(Buffer.from(r.idKeyDigest).toString("base64"), ID_KEY_DIGEST_B64);
  assert.equal(toHex(r.authorKeyDigest), "00".repeat(48));
  assert.equal(decodeSignerInfo(r.signerInfo).authorKeyEn, false);
});

test("without an ID block every ID field of the report is zero", () => {
  const r = report(launchGuest());
  for (const f of [r.idKeyDigest, r.authorKeyDigest, r.familyId, r.imageId]) assert.ok(f.every((b) => b === 0));
  assert.equal(r.guestSvn, 0);
  assert.equal(decodeSignerInfo(r.signerInfo).authorKeyEn, false);
});

test("ID blocks are rejected for a wrong LD, policy, ID-block signature, ID-key signature or algorithm", () => {
  const cases: [string, IdOverrides, number][] = [
    ["LD ≠ launch digest", { ld: new Uint8Array(48).fill(1) }, SEV_RET.BAD_MEASUREMENT],
    ["policy ≠ launch policy", { policy: 0x30000n | (1n << 19n) }, SEV_RET.POLICY_FAILURE],
    ["ID block signed by the author key", { blockSigner: AUTHOR_KEY }, SEV_RET.BAD_SIGNATURE],
    ["ID key signed by the ID key itself", { keySigner: ID_KEY }, SEV_RET.BAD_SIGNATURE],
    ["ID_KEY_ALGO 2", { idKeyAlgo: 2 }, SEV_RET.INVALID_PARAM],
  ];
  for (const [name, o, status] of cases) {
    assert.throws(
      () => launchGuest(testConfig(), { finish: (d) => idBlockFor(d, o) }),
      (e: unknown) => e instanceof PlatformError && e.code === "ASP_ERROR" && e.details.status === status,
      name,
    );
  }
});

test("a rejected ID block leaves the guest launching: LAUNCH_FINISH can be retried", () => {
  const hw = new FakeHardware();
  const asp = createSecureProcessor(hw, testConfig());
  asp.launchStart({ policy: 0x30000n });
  asp.launchUpdate({ gpa: gpa(0x1000), type: "zero" });
  const bad = idBlockFor(asp.launchDigest, { ld: new Uint8Array(48) });
  assert.throws(() => asp.launchFinish(bad), (e: unknown) => e instanceof PlatformError && e.details.status === SEV_RET.BAD_MEASUREMENT);
  asp.launchFinish(idBlockFor(asp.launchDigest));
  assert.throws(() => asp.launchFinish({}), (e: unknown) => e instanceof PlatformError && e.code === "LAUNCH_STATE");
});
