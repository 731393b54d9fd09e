/**
 * The untrusted host, assembled: the GHCB handler, the scheduler, the VMPL0 NIC with its
 * TCP relay (SEV mode), and the adversary switches. The composition root launches the CVM
 * first (`launchCvm`, or `bootPlain` without SEV) and then creates the host on the same
 * hypervisor port.
 */
import type { Clock } from "../shared/base/index.js";
import { SeededRng } from "../shared/base/index.js";
import type { SevenLayout } from "../shared/spec/index.js";
import type { HypervisorPort } from "../platform/index.js";
import type { AdversaryConfig } from "./adversary/config.js";
import { reportSwapper } from "./adversary/report-swap.js";
import { RelayAdversary } from "./adversary/stream.js";
import type { PrivateReadObservation } from "./adversary/memory.js";
import { HostError } from "./errors.js";
import { GhcbHandler } from "./ghcb-handler.js";
import { NicRelay } from "./nic/relay.js";
import { Counters, HostLog } from "./observe.js";
import type { HostEvent, HostEventSink } from "./observe.js";
import { Scheduler } from "./scheduler.js";
import type { GuestState, StopReason } from "./scheduler.js";

export interface HostOptions {
  readonly hypervisor: HypervisorPort;
  readonly layout: SevenLayout;
  readonly clock: Clock;
  /** Seeds the adversary's randomness (corrupted records, interrupt targets). */
  readonly seed: string | number | bigint;
  /** True: a VMPL0 agent with its NIC (SEV mode). False: --no-sev, VMPL1 only. */
  readonly agent: boolean;
  readonly adversary?: AdversaryConfig;
  readonly scheduler?: {
    readonly guestBudget?: number;
    readonly sliceMs?: number;
    readonly latencyBudget?: number;
    readonly lingerMs?: number;
    readonly agentBudget?: number;
    readonly pausedRetryMs?: number;
    readonly haltMs?: number;
    readonly nicVcpu?: number;
  };
  /** The plaintext the host loaded at the agent image's GPA (read-private compares). */
  readonly knownPlaintext?: Uint8Array;
  /** Every VMPL1 context became non-runnable (paused/held by the agent). */
  readonly onAllPaused?: () => void;
  /** The scheduler ended by itself (terminate request, error). */
  readonly onStop?: (reason: StopReason) => void;
  readonly log?: HostEventSink;
}

export interface Host {
  readonly layout: SevenLayout;
  readonly hypervisor: HypervisorPort;
  /** Opens the NIC's TCP listener (SEV mode). Throws HostError LISTEN_FAILED. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  readonly endpoint: { host: string; port: number } | undefined;
  /** Starts the scheduler loop (yields to the event loop between rounds). */
  start(): void;
  /** Stops the loop and closes the listener and its connections. */
  stop(): Promise<void>;
  /** One synchronous scheduler round (tests, benchmarks); true if anything ran. */
  round(): boolean;
  readonly rounds: number;
  /** Why the scheduler ended, once it has. */
  readonly stopReason: StopReason | undefined;
  counters(): Record<string, number>;
  events(prefix?: string): HostEvent[];
  guestStates(): GuestState[];
  /** Host-side pause of a vCPU's VMPL1 context (the --no-sev baseline's run control). */
  setGuestRunnable(vcpu: number, runnable: boolean): void;
  agentBooted(vcpu: number): boolean;
  readonly lastPrivateRead: PrivateReadObservation | undefined;
  readonly nic: NicRelay | undefined;
}

export function createHost(o: HostOptions): Host {
  const counters = new Counters();
  const log = new HostLog(o.log);
  const adversary = o.adversary ?? {};
  const rng = new SeededRng(o.seed).fork("host/adversary");
  const relayAdversary = new RelayAdversary(adversary, rng.fork("relay"), counters, log);
  const ghcb = new GhcbHandler(o.hypervisor, counters, log);
  if (adversary.swapReport !== undefined) {
    ghcb.responseHook = reportSwapper(adversary.swapReport.mode, o.hypervisor, String(o.seed), o.clock, counters, log);
  }
  let scheduler: Scheduler | undefined;
  const nic = o.agent
    ? new NicRelay({ mem: o.hypervisor, nic: o.layout.nic, adversary: relayAdversary, counters, log, onActivity: () => scheduler?.wake() })
    : undefined;
  nic?.init();
  const sched = new Scheduler({
    hv: o.hypervisor,
    layout: o.layout,
    clock: o.clock,
    agent: o.agent,
    ghcb,
    ...(nic !== undefined ? { nic } : {}),
    adversary,
    rng: rng.fork("scheduler"),
    counters,
    log,
    ...o.scheduler,
    ...(o.knownPlaintext !== undefined ? { knownPlaintext: o.knownPlaintext } : {}),
    ...(o.onAllPaused !== undefined ? { onAllPaused: o.onAllPaused } : {}),
    ...(o.onStop !== undefined ? { onStop: o.onStop } : {}),
  });
  scheduler = sched;
  return {
    layout: o.layout,
    hypervisor: o.hypervisor,
    async listen(host, port) {
      if (nic === undefined) throw new HostError("BAD_STATE", "without an agent there is no NIC to listen on");
      return nic.listen(host, port);
    },
    get endpoint() {
      return nic?.endpoint;
    },
    start: () => sched.start(),
    async stop() {
      await sched.stop();
      relayAdversary.dispose();
      await nic?.close();
    },
    round: () => sched.round(),
    get rounds() {
      return sched.rounds;
    },
    get stopReason() {
      return sched.stopReason;
    },
    counters: () => counters.snapshot(),
    events: (prefix) => log.events(prefix),
    guestStates: () => sched.guestStates(),
    setGuestRunnable: (v, r) => {
      sched.setGuestRunnable(v, r);
      if (r) sched.wake();
    },
    agentBooted: (v) => sched.agentBooted(v),
    get lastPrivateRead() {
      return sched.lastPrivateRead;
    },
    nic,
  };
}
