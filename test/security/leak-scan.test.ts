/**
 * Threat: the host learns inspection data or secrets from what it sees: every byte it
 * relays between the owner and the agent (both directions), its view of every guest page
 * (HypervisorPort.read of all memory), the NIC ring pages while they are in use.
 * Expected: nothing. A known secret marker planted in a guest process's page, VMPCK0 (in
 * the agent's secrets page), VMPCK1 (in the guest's copy), the agent's TLS private key and
 * the owner's private key never appear; no 4 KiB of host-visible bytes equals a plaintext
 * page of guest memory, and no 64-byte window of one appears at any offset — after a full
 * owner session: attest, ps, the integrity checks, regs, a write and read-back of the
 * marker, a dump of all guest RAM, a page trap with its events. The count must be zero.
 *
 * The test holds what only the hardware holds (the platform's plaintext of guest memory,
 * from machine snapshots, and the secrets page) to know what to look for; positive
 * controls show the scan finds what it looks for.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { p256 } from "@noble/curves/nist.js";
import { SeededRng, bytesEqual, type Gpa } from "../../src/shared/base/index.js";
import { vmpckOffset } from "../../src/shared/spec/index.js";
import { ALL_CHECKS, Vmi, dumpMemory, kva, openLinux, ps, regs, runChecks, runPlugin, type AgentV1Driver } from "../../src/client/index.js";
import { defaultProfile } from "../../src/app/world/world.js";
import type { MachineSnapshot } from "../../src/platform/index.js";
import { PAGE, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";
import { PlaintextIndex, WINDOW, occurrences } from "./helpers/leak-scan.js";
import { startRecordingRelay, type RecordingRelay } from "./helpers/recording-relay.js";

let sw: SecWorld;
let relay: RecordingRelay;
let dir: string;
const ringSamples: Buffer[] = [];
let sampler: NodeJS.Timeout | undefined;

before(async () => {
  sw = await startSecWorld("leak-scan");
  relay = await startRecordingRelay(sw.world.endpoint);
  dir = await mkdtemp(join(tmpdir(), "seven-leak-"));
  // The NIC ring pages as the host sees them, sampled while the session runs (distinct samples kept).
  const nic = sw.world.layout.nic;
  const seen = new Set<string>();
  sampler = setInterval(() => {
    const hv = sw.world.machine.hypervisor;
    const s = Buffer.concat([hv.read(nic.control, PAGE), hv.read(nic.rx, nic.rxBytes), hv.read(nic.tx, nic.txBytes)]);
    const key = `${s.length}:${s.subarray(0, 64).toString("hex")}:${Buffer.from(s.buffer, s.byteOffset + PAGE, 4096).toString("base64")}`;
    if (!seen.has(key) && ringSamples.length < 32) {
      seen.add(key);
      ringSamples.push(s);
    }
  }, 200);
});
after(async () => {
  clearInterval(sampler);
  await relay?.close();
  await sw?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function u64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** The agent's TLS private key: the world seeds the agent's entropy (deterministicAgent); the first 48 bytes make the key. */
function agentTlsKey(): Uint8Array {
  const sk = p256.utils.randomSecretKey(new SeededRng(sw.seed).fork("world/agent-entropy").bytes(48));
  const spki = sw.world.agent!.introspect.tlsSpki!;
  assert.ok(bytesEqual(spki.subarray(spki.length - 65), p256.getPublicKey(sk, false)), "derived the agent's real TLS key");
  return sk;
}

const phases: string[] = [];
let lapAt = performance.now();
function lap(what: string): void {
  const now = performance.now();
  phases.push(`${what} ${((now - lapAt) / 1000).toFixed(1)} s`);
  lapAt = now;
}

async function session(d: AgentV1Driver, marker: Uint8Array, snaps: MachineSnapshot[], views: Uint8Array[]): Promise<{ dumpFile: string }> {
  const profile = defaultProfile();
  const vmi = await Vmi.open(d);
  const k = await openLinux(vmi, profile, { requirements: [...ps.requirements, ...regs.requirements, ...ALL_CHECKS.flatMap((c) => c.requirements)] });
  await d.pauseVcpus();
  try {
    lap("open linux");
    const rows = (await runPlugin(ps, k, {})).rows;
    assert.ok(rows.length > 50);
    const beta = rows.find((r) => r["comm"] === "vmi_beta")!;
    const dtb = beta["dtb"] as bigint;
    // Plant the marker in vmi_beta's argument page, past its arguments and environment (the
    // workload's user stores touch only the first 2 KiB of a page).
    const p = sw.world.guest.groundTruth().processes.find((x) => x.comm === "vmi_beta")!;
    const [argStart] = await d.readVirt(dtb, [{ va: BigInt(p.mm!) + BigInt(profile.offsetOf("mm_struct", "arg_start")), len: 8 }]);
    const va = (u64(argStart as Uint8Array) & ~0xfffn) + 0xc00n;
    assert.deepEqual(await d.writeVirt(dtb, [{ va, data: marker }]), [undefined]);
    assert.deepEqual((await d.readVirt(dtb, [{ va, len: marker.length }]))[0], marker, "the marker is in the process's page");
    lap("ps, marker");
    const checks = await runChecks(k, []);
    assert.ok(checks.checks.length >= 10);
    assert.equal((await runPlugin(regs, k, {})).rows.length, 2);
    lap("checks, regs");
    snaps.push(sw.world.snapshot());
    views.push(sw.world.machine.hypervisor.read(0n as Gpa, Number(sw.world.layout.memoryBytes)));
    lap("host view");
    const dumpFile = join(dir, "mem.lime");
    const r = await dumpMemory(d, { out: dumpFile, format: "lime", source: "leak-scan", exclude: [d.agentRegion] });
    assert.equal(r.dataBytes, d.machine.guestRamEnd);
    lap("dump");
    const gpa = await vmi.translate(kva(k.symbol("sys_call_table")));
    await d.resumeVcpus();
    let hits = 0;
    const trap = await d.armTrap({ gpa, access: "r" }, () => {
      hits++;
      return "continue";
    });
    await waitFor(() => hits >= 3, 30_000, "trap events");
    await trap.dispose();
    lap("trap");
    return { dumpFile };
  } finally {
    await d.resumeVcpus().catch(() => undefined);
  }
}

test("after a full owner session, nothing the host saw holds a secret or a plaintext page: 0 findings", async (t) => {
  const marker = Uint8Array.from([...new TextEncoder().encode("00SEVen-leak-marker:"), ...randomBytes(44)]);
  const l = sw.world.layout;
  const snaps: MachineSnapshot[] = [];
  const views: Uint8Array[] = [];
  lapAt = performance.now();
  const d = await sw.connect({ endpoint: relay.endpoint });
  lap("attest");
  const { dumpFile } = await session(d, marker, snaps, views);
  await d.close();
  snaps.push(sw.world.snapshot());
  views.push(sw.world.machine.hypervisor.read(0n as Gpa, Number(l.memoryBytes)));
  clearInterval(sampler);
  lap("close, host view");

  const secrets: Record<string, Uint8Array> = {
    marker,
    vmpck0: sw.plaintext(l.secrets + BigInt(vmpckOffset(0)), 32),
    vmpck1: sw.plaintext(l.guestSecrets + BigInt(vmpckOffset(1)), 32),
    "agent TLS key": agentTlsKey(),
    "owner key": new Uint8Array(Buffer.from(sw.owner.privateKey.export({ format: "jwk" }).d!, "base64url")),
  };
  for (const [name, s] of Object.entries(secrets)) assert.ok(!s.every((b) => b === 0), `${name} is a real secret`);

  // What to look for: the plaintext of every guest-assigned page, at both points in time.
  const hv = sw.world.machine.hypervisor;
  const index = new PlaintextIndex();
  for (const s of snaps) {
    const { pfns, data } = s.memory;
    for (let i = 0; i < pfns.length; i++) if (hv.rmpRead(BigInt(pfns[i]! * PAGE) as Gpa).assigned) index.add(data.subarray(i * PAGE, (i + 1) * PAGE));
  }

  lap("plaintext index");
  // Positive controls: the marker is in the plaintext, traveled to the owner, and the scan finds planted copies.
  assert.equal(snaps.some((s) => occurrences(s.memory.data, marker) === 1), true, "the marker is in guest memory");
  const dump = await readFile(dumpFile);
  assert.equal(occurrences(dump, marker), 1, "the owner's dump holds the marker");
  const markerPage = snaps[0]!.memory.data.subarray(...((): [number, number] => {
    const at = Buffer.from(snaps[0]!.memory.data).indexOf(marker);
    const start = at - (at % PAGE);
    return [start, start + PAGE];
  })());
  const planted = Buffer.concat([randomBytes(1001), markerPage.subarray(0xc00 - 37, 0xc00 + 2 * WINDOW + 37), randomBytes(999)]);
  assert.ok(index.windowMatches(planted) >= 1, "control: a copied run of a plaintext page is found at an odd offset");
  assert.equal(index.pageMatches(Buffer.concat([randomBytes(PAGE), markerPage])), 1, "control: a copied page is found");

  lap("controls");
  // Everything the host saw.
  const findings: string[] = [];
  const scan = (what: string, buf: Uint8Array, windows: boolean): void => {
    for (const [name, s] of Object.entries(secrets)) {
      const n = occurrences(buf, s);
      if (n > 0) findings.push(`${what}: ${name} ×${n}`);
    }
    const pages = index.pageMatches(buf);
    if (pages > 0) findings.push(`${what}: ${pages} plaintext pages`);
    if (windows) {
      const w = index.windowMatches(buf);
      if (w > 0) findings.push(`${what}: ${w} plaintext windows`);
    }
  };
  let relayed = 0;
  relay.connections.forEach((c, i) => {
    for (const dirn of ["toAgent", "toOwner"] as const) {
      const b = relay.bytes(c, dirn);
      relayed += b.length;
      scan(`connection ${i + 1} ${dirn}`, b, true);
    }
  });
  let sharedPages = 0;
  views.forEach((v, i) => {
    scan(`host view ${i + 1} of all memory`, v, false);
    // Shared pages hold bytes the host may read as they are: scan them at every offset too.
    for (let pfn = 0; pfn < v.length / PAGE; pfn++) {
      if (hv.rmpRead(BigInt(pfn * PAGE) as Gpa).assigned) continue;
      sharedPages++;
      const w = index.windowMatches(v.subarray(pfn * PAGE, (pfn + 1) * PAGE));
      if (w > 0) findings.push(`host view ${i + 1}, shared page 0x${(pfn * PAGE).toString(16)}: ${w} plaintext windows`);
    }
  });
  // Ring samples: their payloads are the relayed stream scanned above (and the last state is
  // in the host views' shared pages, scanned at every offset); here: secrets and pages.
  ringSamples.forEach((s, i) => scan(`NIC ring sample ${i + 1}`, s, false));
  lap("scan");
  t.diagnostic(`leak scan phases: ${phases.join(", ")}`);

  t.diagnostic(
    `leak scan: ${relayed} relayed bytes in ${relay.connections.length} connection(s), ${views.length} host views of all ${l.memoryBytes / BigInt(PAGE)} pages ` +
      `(${sharedPages} shared pages also scanned at every offset), ${ringSamples.length} NIC ring samples; ` +
      `looked for ${Object.keys(secrets).length} secrets, ${index.pages} plaintext pages, ${index.windows} plaintext windows; findings: ${findings.length}`,
  );
  assert.ok(relayed > Number(l.guestRamEnd), "the whole dump went through the relay");
  assert.ok(ringSamples.length >= 3);
  assert.deepEqual(findings, [], "nothing the host saw holds a secret or guest plaintext");
});
