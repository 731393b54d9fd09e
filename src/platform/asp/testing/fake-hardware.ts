/**
 * Test doubles for the ASP's seam to the machine: an `AspHardware` backed by a Map of
 * plaintext pages and a Map of RMP entries, and a default config (fixed seed and clock).
 * Used only by tests in src/platform/asp.
 */
import { fixedClock, PAGE_SIZE, SeededRng } from "../../../shared/base/index.js";
import type { Gpa } from "../../../shared/base/index.js";
import { RMP_PERM_ALL } from "../../../shared/spec/index.js";
import type { RmpEntryView } from "../../api.js";
import { PlatformError } from "../../fault.js";
import type { AspConfig, AspHardware } from "../hardware.js";

export class FakeHardware implements AspHardware {
  readonly memoryBytes: bigint;
  readonly asid = 1;
  readonly pages = new Map<bigint, Uint8Array>();
  readonly rmp = new Map<bigint, RmpEntryView>();
  /** Every rmpLaunchAssign, in order. */
  readonly assigned: { gpa: bigint; vmplPerms: readonly [number, number, number]; vmsa: boolean }[] = [];

  constructor(memoryBytes = 16n << 20n) {
    this.memoryBytes = memoryBytes;
  }

  readPage(gpa: Gpa): Uint8Array {
    return new Uint8Array(this.pages.get(gpa) ?? new Uint8Array(PAGE_SIZE));
  }

  writePage(gpa: Gpa, data: Uint8Array): void {
    if (data.length !== PAGE_SIZE) throw new RangeError("writePage needs a whole page");
    this.pages.set(gpa, new Uint8Array(data));
  }

  /** What the hypervisor does before LAUNCH_UPDATE: write the plaintext of a page it still owns. */
  hostWrite(gpa: bigint, data: Uint8Array, offset = 0): void {
    const page = this.readPage(gpa as Gpa);
    page.set(data, offset);
    this.pages.set(gpa, page);
  }

  rmpGet(gpa: Gpa): RmpEntryView {
    return (
      this.rmp.get(gpa) ?? { assigned: false, validated: false, vmsa: false, immutable: false, pageSize: 0, asid: 0, perms: [0, 0, 0, 0] }
    );
  }

  rmpLaunchAssign(gpa: Gpa, p: { vmplPerms: readonly [number, number, number]; vmsa: boolean }): void {
    if (this.rmpGet(gpa).assigned) throw new PlatformError("BAD_GPA", "already assigned", { gpa });
    this.rmp.set(gpa, {
      assigned: true,
      validated: true,
      vmsa: p.vmsa,
      immutable: false,
      pageSize: 0,
      asid: this.asid,
      perms: [RMP_PERM_ALL, p.vmplPerms[0], p.vmplPerms[1], p.vmplPerms[2]],
    });
    this.assigned.push({ gpa, vmplPerms: p.vmplPerms, vmsa: p.vmsa });
  }
}

export const TEST_EPOCH = "2026-01-15T12:00:00Z";

export function testConfig(over: Partial<AspConfig> = {}, seed = "asp-test-seed"): AspConfig {
  return { product: "milan", rng: new SeededRng(seed), clock: fixedClock(TEST_EPOCH), ...over };
}
