/**
 * A simulated world in its own Node process, as `seven host` runs it (started by
 * world.ts, never by hand). Options come as JSON in argv[2]; the endpoint, measurement and
 * simulated ARK go to the parent over IPC once the guest has booted. Requests over IPC:
 *   stats       guest statistics and host counters;
 *   probe-start / probe-stop
 *               trap round trips timed inside this process: from the VMPL1 exit that
 *               reports a VMPL #NPF (the guest's access) to the VMPL1 exit that reports the
 *               #DB of the single step the agent lets through (the guest continued), per
 *               vCPU. The hypervisor's `vmrun` is wrapped to see those exits; nothing else
 *               changes.
 * The process exits when the parent disconnects (the world is stopped first).
 */
import { performance } from "node:perf_hooks";
import { createWorld } from "../../src/app/world/world.js";
import { NPF_EXITINFO1, SVM_EXIT } from "../../src/shared/spec/index.js";

export interface WorldPeerOptions {
  readonly sev: boolean;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly processes: number;
  readonly seed: string;
  readonly legacyV0: boolean;
  /** Owner public key, SPKI DER in hex (SEV mode). */
  readonly ownerKeyHex?: string;
}

export interface WorldReady {
  readonly host: string;
  readonly port: number;
  readonly mode: string;
  readonly measurementHex: string | null;
  readonly arkPem: string | null;
  readonly createMs: number;
  readonly bootMs: number;
  readonly guestRamEnd: string;
}

const opts = JSON.parse(process.argv[2] ?? "{}") as WorldPeerOptions;
const t0 = performance.now();
const w = await createWorld({
  sev: opts.sev,
  memoryBytes: BigInt(opts.memoryMiB) << 20n,
  vcpus: opts.vcpus,
  processes: opts.processes,
  seed: opts.seed,
  legacyV0: opts.legacyV0,
  ...(opts.ownerKeyHex !== undefined ? { ownerKey: new Uint8Array(Buffer.from(opts.ownerKeyHex, "hex")) } : {}),
});
const createMs = performance.now() - t0;

// ---- the trap probe: wraps vmrun to time VMPL1 #NPF → #DB per vCPU -------------------
const hv = w.machine.hypervisor;
const vmsa1 = new Set(w.layout.vmsa1.map((g) => BigInt(g)));
const faultAt = new Map<number, number>();
let probe: { roundTripsUs: number[]; npf: number; db: number } | undefined;
const vmrun = hv.vmrun.bind(hv);
(hv as { vmrun: typeof hv.vmrun }).vmrun = (vcpu, vmsaGpa, budget) => {
  const exit = vmrun(vcpu, vmsaGpa, budget);
  if (probe !== undefined && vmsa1.has(BigInt(vmsaGpa))) {
    if (exit.code === SVM_EXIT.NPF && (exit.info1 & NPF_EXITINFO1.VMPL) !== 0n) {
      probe.npf++;
      faultAt.set(vcpu, performance.now());
    } else if (exit.code === SVM_EXIT.EXCP_DB) {
      probe.db++;
      const t = faultAt.get(vcpu);
      if (t !== undefined) probe.roundTripsUs.push((performance.now() - t) * 1000);
      faultAt.delete(vcpu);
    }
  }
  return exit;
};

w.start();
const tb = performance.now();
while (!w.guest.booted) await new Promise((r) => setTimeout(r, 20));
// Let the workload reach its steady state (the process count settles near its target).
await new Promise((r) => setTimeout(r, 300));
const ready: WorldReady = {
  host: w.endpoint.host,
  port: w.endpoint.port,
  mode: w.mode,
  measurementHex: w.measurement ? Buffer.from(w.measurement).toString("hex") : null,
  arkPem: w.arkPem() ?? null,
  createMs,
  bootMs: performance.now() - tb,
  guestRamEnd: w.layout.guestRamEnd.toString(),
};
process.send?.({ ready });

process.on("message", (m: { id: number; op: string }) => {
  const reply = (result: unknown): void => void process.send?.({ id: m.id, result });
  switch (m.op) {
    case "stats":
      return reply({ guest: w.guest.stats(), counters: w.host.counters() });
    case "probe-start":
      faultAt.clear();
      probe = { roundTripsUs: [], npf: 0, db: 0 };
      return reply(true);
    case "probe-stop": {
      const p = probe;
      probe = undefined;
      return reply(p ?? { roundTripsUs: [], npf: 0, db: 0 });
    }
    default:
      return reply({ error: `unknown op ${m.op}` });
  }
});
process.on("disconnect", () => {
  void w.stop().finally(() => process.exit(0));
});
