/**
 * The host looking at and poking guest private memory (SNP.md §4.5, host side): a read of
 * a guest-assigned page returns ciphertext (AES-XTS under the VM's key, tweaked by GPA), a
 * write raises #PF with the RMP bit. What it sees is logged: the first bytes, whether they
 * equal what the host itself wrote there before launch, and the RMP metadata, which the
 * host may read.
 */
import type { Gpa } from "../../shared/base/index.js";
import { bytesEqual, toHex } from "../../shared/base/index.js";
import { HostPageFault } from "../../platform/index.js";
import type { HypervisorPort, RmpEntryView } from "../../platform/index.js";
import type { Counters, HostLog } from "../observe.js";

export interface PrivateReadObservation {
  readonly gpa: Gpa;
  readonly bytes: Uint8Array;
  readonly rmp: RmpEntryView | undefined;
  /** Whether the bytes equal `knownPlaintext` (what the host wrote before launch), when given. */
  readonly matchesPlaintext: boolean | undefined;
}

export function readPrivate(hv: HypervisorPort, gpa: Gpa, counters: Counters, log: HostLog, knownPlaintext?: Uint8Array): PrivateReadObservation {
  const len = knownPlaintext?.length ?? 32;
  const bytes = hv.read(gpa, len);
  const rmp = hv.sev ? hv.rmpRead((gpa & ~0xfffn) as Gpa) : undefined;
  const matchesPlaintext = knownPlaintext === undefined ? undefined : bytesEqual(bytes, knownPlaintext);
  counters.inc("adversary.read-private");
  log.event("adversary.read-private", `read ${len} bytes at 0x${gpa.toString(16)}: ${toHex(bytes.subarray(0, 16))}…${matchesPlaintext === undefined ? "" : matchesPlaintext ? " (= the plaintext)" : " (≠ the plaintext: ciphertext)"}`, {
    gpa,
    bytes: toHex(bytes.subarray(0, 32)),
    matchesPlaintext,
    rmp,
  });
  return { gpa, bytes, rmp, matchesPlaintext };
}

export interface PrivateWriteObservation {
  readonly gpa: Gpa;
  readonly faulted: boolean;
  readonly errorCode: number | undefined;
}

export function writePrivate(hv: HypervisorPort, gpa: Gpa, counters: Counters, log: HostLog): PrivateWriteObservation {
  const data = new Uint8Array(16).fill(0x41);
  try {
    hv.write(gpa, data);
  } catch (e) {
    if (!(e instanceof HostPageFault)) throw e;
    counters.inc("adversary.write-private.faults");
    log.event("adversary.write-private", `write at 0x${gpa.toString(16)} faulted: #PF error code 0x${(e.errorCode >>> 0).toString(16)}`, { gpa, errorCode: e.errorCode });
    return { gpa, faulted: true, errorCode: e.errorCode };
  }
  counters.inc("adversary.write-private.succeeded");
  log.event("adversary.write-private", `write at 0x${gpa.toString(16)} succeeded (the page is not guest-private)`, { gpa });
  return { gpa, faulted: false, errorCode: undefined };
}
