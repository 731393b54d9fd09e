/**
 * A launched CVM with the fake agent and guest, and a host on it — for the host's tests.
 */
import type { Clock } from "../../shared/base/index.js";
import { ManualClock, PAGE_SIZE } from "../../shared/base/index.js";
import { computeLayout } from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { createMachine } from "../../platform/index.js";
import type { Machine } from "../../platform/index.js";
import type { AdversaryConfig } from "../adversary/config.js";
import { createHost } from "../host.js";
import type { Host, HostOptions } from "../host.js";
import { bootPlain, launchCvm } from "../launch.js";
import type { LaunchInputs } from "../launch.js";
import { FakeAgent, FakeGuest, fakeVmsaPage } from "./fake-programs.js";

export const MIB = 1n << 20n;

export function fakeImage(tag = "fake agent image"): Uint8Array {
  const img = new Uint8Array(2 * PAGE_SIZE);
  img.set(new TextEncoder().encode(tag));
  img[PAGE_SIZE + 7] = 0x5a;
  return img;
}

export function fakeInputs(over: Partial<LaunchInputs> = {}): LaunchInputs {
  return {
    memoryBytes: 64n * MIB,
    vcpus: 2,
    agentImage: fakeImage(),
    agentConfig: new TextEncoder().encode("fake config"),
    vmsaPage: (vmpl) => fakeVmsaPage(vmpl),
    ...over,
  };
}

export interface TestWorld {
  readonly machine: Machine;
  readonly host: Host;
  readonly agent: FakeAgent;
  readonly guest: FakeGuest;
  readonly layout: SevenLayout;
  readonly clock: Clock;
  readonly measurement: Uint8Array | undefined;
}

export function testWorld(
  o: {
    vcpus?: number;
    sev?: boolean;
    adversary?: AdversaryConfig;
    clock?: Clock;
    scheduler?: HostOptions["scheduler"];
    onAllPaused?: () => void;
  } = {},
): TestWorld {
  const inputs = fakeInputs({ vcpus: o.vcpus ?? 2 });
  const sev = o.sev ?? true;
  const clock = o.clock ?? new ManualClock(Date.parse("2026-01-15T12:00:00Z"));
  const machine = createMachine({ memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus, seed: "host-test", clock, sev });
  const layout = computeLayout(inputs);
  const agent = new FakeAgent(layout);
  const guest = new FakeGuest();
  machine.installProgram(0, agent);
  machine.installProgram(1, guest);
  let measurement: Uint8Array | undefined;
  if (sev) measurement = launchCvm(machine.hypervisor, inputs).measurement;
  else bootPlain(machine.hypervisor, inputs);
  const host = createHost({
    hypervisor: machine.hypervisor,
    layout,
    clock,
    seed: "host-test",
    agent: sev,
    knownPlaintext: inputs.agentImage.subarray(0, 32),
    scheduler: { haltMs: 0, pausedRetryMs: 0, ...o.scheduler },
    ...(o.adversary !== undefined ? { adversary: o.adversary } : {}),
    ...(o.onAllPaused !== undefined ? { onAllPaused: o.onAllPaused } : {}),
  });
  return { machine, host, agent, guest, layout, clock, measurement };
}
