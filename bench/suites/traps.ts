/**
 * (4) Trap round trip: guest access → #NPF → host forwards → agent → event at the client
 * → "continue" → agent single-steps the guest past the access → guest continues. A read
 * trap on the page of sys_call_table (the guest model reads it on every system call),
 * answered at once by the client. Measured two ways:
 *   - in the world's process: from the VMPL1 exit reporting the VMPL #NPF to the VMPL1
 *     exit reporting the #DB of the single step (the guest executed the access), per
 *     vCPU — the round trip itself, including the client's leg;
 *   - at the client: events per second (sustained, while the guest runs its workload),
 *     and the interval between events.
 * Compared with a 64-byte TCP echo round trip between two Node processes (tcp-echo).
 */
import { performance } from "node:perf_hooks";
import { ALL_REQUIREMENTS, Vmi, kva, openLinux } from "../../src/client/index.js";
import { metric, medianRatio } from "../harness/measure.js";
import type { Benchmark, Metric, Ratio } from "../harness/types.js";
import { connectSecure } from "../peers/world.js";
import { benchProfile } from "./policy-suite.js";
import { exclusive, secureWorld } from "./worlds.js";

export const traps: Benchmark = {
  name: "traps",
  title: "Trap round trip (guest access → #NPF → agent → client → continue → guest) vs loopback TCP echo",
  needs: ["tcp-echo"],
  async run(ctx) {
    const w = await secureWorld(ctx);
    const windows = ctx.quick ? 1 : 5;
    const windowMs = ctx.quick ? 1500 : 4000;
    return exclusive(w, async () => {
      const d = await connectSecure(w);
      try {
        const vmi = await Vmi.open(d);
        await vmi.pause();
        let gpa: bigint;
        try {
          const k = await openLinux(vmi, await benchProfile(), { requirements: ALL_REQUIREMENTS });
          gpa = await vmi.translate(kva(k.symbol("sys_call_table")));
        } finally {
          await vmi.resume();
        }
        // The guest's own rate of system calls (each reads the trapped page), untrapped.
        const natural: number[] = [];
        for (let i = 0; i < windows; i++) {
          const a = await w.stats();
          await new Promise((r) => setTimeout(r, windowMs / 2));
          const b = await w.stats();
          natural.push(((b.guest.syscalls - a.guest.syscalls) / windowMs) * 2000);
        }
        const rtt: number[] = [], rates: number[] = [], intervals: number[] = [];
        let last = 0;
        let count = 0;
        const trap = await d.armTrap({ gpa, access: "r" }, () => {
          const now = performance.now();
          if (last > 0) intervals.push((now - last) * 1000);
          last = now;
          count++;
          return "continue";
        });
        try {
          await new Promise((r) => setTimeout(r, 300)); // warm-up
          for (let i = 0; i < windows; i++) {
            ctx.progress.step(`window ${i + 1}/${windows} (${windowMs} ms)`);
            await w.probeStart();
            const c0 = count;
            const t0 = performance.now();
            await new Promise((r) => setTimeout(r, windowMs));
            const p = await w.probeStop();
            rates.push(((count - c0) / (performance.now() - t0)) * 1000);
            rtt.push(...p.roundTripsUs);
          }
        } finally {
          await trap.dispose();
        }
        const mRtt = metric("traps.rtt", "trap round trip (#NPF exit → #DB exit of the step), in the world process", "µs", "lower", rtt);
        const mRate = metric("traps.events-per-second", "sustained events per second at the client (per window)", "events/s", "higher", rates);
        const mInt = metric("traps.interval", "interval between events at the client", "µs", "lower", intervals);
        const mNat = metric("traps.natural-rate", "the guest's system calls per second without the trap (each reads the page)", "calls/s", "higher", natural);
        const metrics: Metric[] = [mRtt, mRate, mInt, mNat];
        const ratios: Ratio[] = [];
        const echo = ctx.metric("tcp-echo.rtt");
        if (echo !== undefined) {
          ratios.push(medianRatio("traps.rtt-over-echo", "trap round trip / TCP echo (medians)", mRtt, echo, { op: "<=", value: 3 }));
          ratios.push(medianRatio("traps.rtt-over-echo-p99", "trap round trip / TCP echo (p99s)", mRtt, echo, undefined, "p99"));
        }
        return {
          metrics,
          ratios,
          params: { trappedPage: `0x${gpa.toString(16)} (sys_call_table, read)`, windows, windowMs },
          notes: [
            "The round trip is timed inside the world's process by wrapping the hypervisor's vmrun (the bench's instrumentation; nothing else changes): it spans the host forwarding the #NPF, the agent's event, the relay, TLS, the client's answer and the agent's single step.",
            "Events per second are bounded by how often the guest touches the page; the guest's untrapped rate is shown next to it.",
          ],
        };
      } finally {
        await d.close();
      }
    });
  },
};
