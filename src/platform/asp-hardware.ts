/**
 * The machine's side of the ASP seam (asp/hardware.ts): the firmware sees plaintext and
 * makes the RMP transition of SNP_LAUNCH_UPDATE. Only the secure processor gets this
 * object.
 */
import type { Gpa } from "../shared/base/index.js";
import type { RmpEntryView } from "./api.js";
import type { AspHardware } from "./asp/hardware.js";
import { PlatformError } from "./fault.js";
import type { GuestMemory } from "./memory.js";
import { PAGE } from "./memory.js";
import type { RmpTable } from "./rmp-table.js";

export class MachineAspHardware implements AspHardware {
  readonly memoryBytes: bigint;
  readonly asid: number;
  readonly #mem: GuestMemory;
  readonly #rmp: RmpTable;

  constructor(mem: GuestMemory, rmp: RmpTable) {
    this.#mem = mem;
    this.#rmp = rmp;
    this.memoryBytes = mem.bytes;
    this.asid = rmp.asid;
  }

  readPage(gpa: Gpa): Uint8Array {
    return this.#mem.copyPage(this.#pfn(gpa));
  }

  writePage(gpa: Gpa, data: Uint8Array): void {
    const pfn = this.#pfn(gpa);
    if (data.length !== PAGE) throw new PlatformError("BAD_ARGUMENT", "writePage needs exactly one 4 KiB page", { gpa, length: data.length });
    this.#mem.writeFrom(pfn, 0, data, 0, PAGE);
  }

  rmpGet(gpa: Gpa): RmpEntryView {
    return this.#rmp.view(this.#pfn(gpa));
  }

  /** SNP_LAUNCH_UPDATE encrypts the page in place: unlike a host RMPUPDATE (page-state.ts) the plaintext stays. */
  rmpLaunchAssign(gpa: Gpa, p: { vmplPerms: readonly [number, number, number]; vmsa: boolean }): void {
    this.#rmp.launchAssign(this.#pfn(gpa), p.vmplPerms, p.vmsa);
  }

  #pfn(gpa: Gpa): number {
    if (typeof gpa !== "bigint" || gpa < 0n || gpa >= this.memoryBytes || gpa % BigInt(PAGE) !== 0n) {
      throw new PlatformError("BAD_GPA", `ASP: GPA 0x${BigInt(gpa).toString(16)} is not a page of guest memory`, { gpa });
    }
    return Number(gpa) / PAGE;
  }
}
