/** Test harness: a guest booted on the fake machine, and a profile reader of its memory. */
import { computeLayout } from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { createGuest, type GuestKernel, type GuestOptions } from "../program.js";
import { fixtureProfile } from "./btf-profile-view.js";
import { FakeMachine } from "./fake-cpu.js";
import { LinuxReader } from "./linux-reader.js";

export interface Booted {
  readonly guest: GuestKernel;
  readonly machine: FakeMachine;
  readonly layout: SevenLayout;
  reader(cpu?: number): LinuxReader;
}

export function bootGuest(o: Partial<Omit<GuestOptions, "layout" | "profile">> & { vcpus?: number; memoryMiB?: number } = {}): Booted {
  const layout = computeLayout({ memoryBytes: BigInt(o.memoryMiB ?? 256) << 20n, vcpus: o.vcpus ?? 2 });
  const { vcpus: _v, memoryMiB: _m, ...rest } = o;
  const guest = createGuest({ seed: "guest-test", processes: 64, workload: false, ...rest, layout, profile: fixtureProfile() });
  const machine = new FakeMachine(layout.memoryBytes, layout.vcpus);
  machine.boot(guest);
  // Each vCPU's first step programs long mode.
  for (let c = 0; c < layout.vcpus; c++) machine.run(guest, c, 1);
  return {
    guest,
    machine,
    layout,
    reader: (cpu = 0) => {
      const c = machine.cpus[cpu]!;
      return new LinuxReader(fixtureProfile(), machine.mem, { cr3: c.getReg("cr3"), idtBase: c.getSegment("idtr").base });
    },
  };
}

/** Steps every vCPU until the guest is quiescent (no scenario or process change in flight). */
export function settle(b: Booted, maxRounds = 10_000, slice = 50): void {
  for (let i = 0; i < maxRounds; i++) {
    if (b.guest.quiescent()) return;
    for (let c = 0; c < b.layout.vcpus; c++) b.machine.run(b.guest, c, slice);
  }
  throw new Error("guest did not settle");
}
