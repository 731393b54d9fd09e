/**
 * A small simulated world stepped synchronously on a manual clock (SEV-SNP machine, agent
 * at VMPL0, the guest at VMPL1 running one scenario from boot) until the scenario has run;
 * returns what the guest recorded. For controls that need no owner session.
 */
import { ManualClock } from "../../../src/shared/base/index.js";
import { createWorld } from "../../../src/app/world/world.js";
import type { World } from "../../../src/app/world/world.js";
import type { ScenarioRecord } from "../../../src/guest/index.js";

export async function runAttack(spec: string, check?: (w: World, rec: ScenarioRecord) => void): Promise<ScenarioRecord> {
  const clock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));
  const w = await createWorld({ memoryBytes: 128n << 20n, vcpus: 2, processes: 64, seed: `attack:${spec}`, clock, rootkits: [spec] });
  try {
    for (let i = 0; i < 3000; i++) {
      clock.advance(1);
      w.host.round();
      if (w.guest.booted && w.guest.scenarios.every((s) => s.status !== "pending")) break;
    }
    const rec = w.guest.scenarios.find((s) => `${s.name}${s.arg === undefined ? "" : "=" + s.arg}` === spec)!;
    if (rec.status === "pending") throw new Error(`${spec} did not run`);
    check?.(w, rec);
    return rec;
  } finally {
    await w.stop();
  }
}
