/**
 * (1) The cost of confidentiality on the policy suite (pause, ps, lsmod, all checks,
 * resume): the 00SEVen path (client → TLS 1.3 → host relay → NIC rings → VMPL0 agent)
 * against the non-confidential baseline (client → plain TCP → host serving the same VMI
 * code from plainAccess()), on twin worlds, sampled alternately. Session setup (TCP, TLS,
 * attestation) is measured apart: it happens once per session.
 */
import { performance } from "node:perf_hooks";
import type { AgentV1Driver } from "../../src/client/index.js";
import { metric, pairedRatio, sampleAlternating } from "../harness/measure.js";
import type { Benchmark, Metric } from "../harness/types.js";
import { connectPlain, connectSecure } from "../peers/world.js";
import { PolicySuite, checkSummary, type SuiteRun } from "./policy-suite.js";
import { DEFAULT_WORLD, exclusive, plainWorld, secureWorld } from "./worlds.js";

export const policy: Benchmark = {
  name: "policy",
  title: "Policy suite (ps, lsmod, all checks): 00SEVen path vs non-confidential baseline",
  async run(ctx) {
    const sev = await secureWorld(ctx);
    const plain = await plainWorld(ctx);
    const n = ctx.quick ? 3 : 15;
    const nSetup = ctx.quick ? 2 : 5;
    const warmup = ctx.quick ? 1 : 2;

    // Session setup, alternately.
    const setupS: number[] = [], setupP: number[] = [], attest: number[] = [];
    for (let i = 0; i < nSetup; i++) {
      ctx.progress.step(`session setup ${i + 1}/${nSetup}`);
      await exclusive(sev, async () => {
        const t = performance.now();
        const d = await connectSecure(sev);
        setupS.push(performance.now() - t);
        attest.push(d.timings.attestMs);
        await d.close();
      });
      await exclusive(plain, async () => {
        const t = performance.now();
        const d = await connectPlain(plain);
        setupP.push(performance.now() - t);
        await d.close();
      });
    }

    const ds = await exclusive(sev, () => connectSecure(sev));
    const dp = await exclusive(plain, () => connectPlain(plain));
    try {
      const ss = await exclusive(sev, () => PolicySuite.open(ds));
      const sp = await exclusive(plain, () => PolicySuite.open(dp));
      const runsS: SuiteRun[] = [], runsP: SuiteRun[] = [];
      const reqS: number[] = [], reqP: number[] = [];
      const timed = (w: typeof sev, s: PolicySuite, d: AgentV1Driver, runs: SuiteRun[], req: number[]) => () =>
        exclusive(w, async () => {
          const r0 = d.stats.requests;
          runs.push(await s.run());
          req.push(d.stats.requests - r0);
        });
      // Warm-up (records the kernel-text baselines), then the measured pairs.
      for (let i = 0; i < warmup; i++) {
        ctx.progress.step(`warm-up ${i + 1}/${warmup}`);
        await timed(sev, ss, ds, [], [])();
        await timed(plain, sp, dp, [], [])();
      }
      await sampleAlternating(n, 0, timed(sev, ss, ds, runsS, reqS), timed(plain, sp, dp, runsP, reqP), (i, a, b) =>
        ctx.progress.step(`pair ${i + 1}/${n}: secure ${a.toFixed(0)} ms, baseline ${b.toFixed(0)} ms`),
      );
      const mS = metric("policy.secure", "suite end to end, 00SEVen path", "ms", "lower", runsS.map((r) => r.ms));
      const mP = metric("policy.baseline", "suite end to end, non-confidential baseline", "ms", "lower", runsP.map((r) => r.ms));
      const parts: Metric[] = [];
      for (const [key, label] of [["pauseMs", "pause"], ["psMs", "ps"], ["lsmodMs", "lsmod"], ["checksMs", "all checks"], ["resumeMs", "resume"]] as const) {
        parts.push(metric(`policy.secure.${key.replace("Ms", "")}`, `  ${label}, 00SEVen path`, "ms", "lower", runsS.map((r) => r[key])));
        parts.push(metric(`policy.baseline.${key.replace("Ms", "")}`, `  ${label}, baseline`, "ms", "lower", runsP.map((r) => r[key])));
      }
      const perCheck = (runs: SuiteRun[], name: string) => runs.map((r) => r.checks.find((c) => c.check === name)?.ms ?? Number.NaN);
      for (const c of runsS[0]?.checks ?? []) {
        parts.push(metric(`policy.secure.check.${c.check}`, `  check ${c.check}, 00SEVen path`, "ms", "lower", perCheck(runsS, c.check)));
        parts.push(metric(`policy.baseline.check.${c.check}`, `  check ${c.check}, baseline`, "ms", "lower", perCheck(runsP, c.check)));
      }
      const mSetupS = metric("policy.setup-secure", "session setup: TCP + TLS 1.3 + attestation + MachineInfo", "ms", "lower", setupS);
      const mSetupP = metric("policy.setup-baseline", "session setup: TCP + MachineInfo (baseline)", "ms", "lower", setupP);
      const mAttest = metric("policy.setup-attest", "  of which attestation (report request, verification)", "ms", "lower", attest);
      const mReqS = metric("policy.requests-secure", "requests per suite, 00SEVen path", "requests", "lower", reqS);
      const mReqP = metric("policy.requests-baseline", "requests per suite, baseline", "requests", "lower", reqP);
      return {
        metrics: [mS, mP, ...parts, mSetupS, mSetupP, mAttest, mReqS, mReqP],
        ratios: [
          pairedRatio("policy.secure-over-baseline", "policy suite: secure / baseline", mS, mP, { op: "<=", value: 1.1 }),
          pairedRatio("policy.setup-secure-over-baseline", "session setup: secure / baseline (once per session)", mSetupS, mSetupP),
        ],
        params: {
          world: { ...DEFAULT_WORLD },
          samples: n,
          warmup,
          processesSeen: { secure: runsS.map((r) => r.processes), baseline: runsP.map((r) => r.processes) },
          modulesSeen: runsS[0]?.modules ?? 0,
        },
        notes: [
          "Twin worlds (same seed, memory, vCPUs, processes) in their own processes; the one not being measured is frozen (SIGSTOP), so each suite runs with the same CPU available.",
          "A suite sample = pause, attach with the known kernel location, ps, lsmod, all checks (kernel text compared with a baseline recorded in the warm-up), resume; the Vmi caches while paused.",
          `Checks, 00SEVen path: ${checkSummary(runsS[0]?.checks ?? [])}.`,
          `Checks, baseline: ${checkSummary(runsP[0]?.checks ?? [])}.`,
        ],
      };
    } finally {
      await exclusive(sev, () => ds.close());
      await exclusive(plain, () => dp.close());
    }
  },
};
