/** `seven attest`: a fresh attested session with the agent, and what it proved. */
import type { Command } from "commander";
import { toHex } from "../../../shared/base/index.js";
import { decodeTcbVersion } from "../../../shared/spec/index.js";
import { PRODUCT_DISPLAY, checkToJson, formatTcbParts, type AgentV1Driver } from "../../../client/index.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";
import { withTarget } from "../owner/linux-target.js";
import { keyValues, mib, out, outJson } from "../owner/print.js";

/** The attestation of an open agent session, for people and for machines. */
export function attestationSummary(d: AgentV1Driver): { text: string; json: Record<string, unknown> } {
  const a = d.attestation!;
  const r = a.report;
  const m = d.machine;
  const tcb = formatTcbParts(decodeTcbVersion(r.reportedTcb, a.product));
  const passed = a.checks.filter((c) => c.status === "pass").length;
  const ark = `${a.arkSource === "builtin" ? "AMD root (built in)" : "trust root you passed"} sha256:${a.arkFingerprint.slice(0, 16)}…`;
  const text = [
    `agent ${d.endpoint} attested in ${(d.timings.connectMs + d.timings.attestMs).toFixed(0)} ms: VMPL0 report bound to this TLS 1.3 session`,
    keyValues([
      ["product", `${PRODUCT_DISPLAY[a.product]}, chain to ${ark}`],
      ["measurement", `${toHex(r.measurement)} (as expected)`],
      ["report data", `${toHex(a.reportData).slice(0, 32)}… = SHA-512(label ‖ nonce ‖ TLS exporter)`],
      ["vmpl", `${r.vmpl}`],
      ["policy", `0x${r.policy.toString(16)} (debug off)`],
      ["reported tcb", tcb],
      ["agent", `${m.agentVersion || "?"}, ${m.vcpus} vCPUs, guest RAM ${mib(m.guestRamEnd)}, agent region ${mib((m.agentRegion?.end ?? 0n) - (m.agentRegion?.start ?? 0n))}`],
      ["checks", `${passed} passed, ${a.checks.length - passed} skipped, 0 failed`],
    ]),
  ].join("\n");
  const json = {
    ok: true,
    endpoint: d.endpoint,
    product: a.product,
    measurement: toHex(r.measurement),
    reportData: toHex(a.reportData),
    nonce: toHex(a.nonce),
    vmpl: r.vmpl,
    policy: r.policy,
    reportedTcb: r.reportedTcb,
    arkSource: a.arkSource,
    arkFingerprint: a.arkFingerprint,
    timings: { connectMs: d.timings.connectMs, attestMs: d.timings.attestMs, machineInfoMs: d.timings.machineInfoMs },
    machine: {
      vcpus: m.vcpus,
      memoryBytes: m.memoryBytes,
      guestRamEnd: m.guestRamEnd,
      agentRegion: { start: m.agentRegion?.start ?? 0n, end: m.agentRegion?.end ?? 0n },
      agentVersion: m.agentVersion,
      limits: d.limits,
    },
    checks: a.checks.map(checkToJson),
  };
  return { text, json };
}

export function register(program: Command): void {
  const cmd = program
    .command("attest")
    .description("open a fresh session with the agent and verify its attestation report (bound to the session)")
    .option("--json", "machine-readable output");
  addTargetOptions(cmd, "agent").action(async (o: TargetFlags & { json?: boolean }) => {
    await withTarget(o, "agent", "attest", async (t) => {
      const s = attestationSummary(t.agent!);
      if (o.json) outJson(s.json);
      else out(s.text);
    });
  });
}
