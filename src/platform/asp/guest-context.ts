/**
 * The firmware's per-guest state (the "guest context" of the SNP ABI): launch phase and
 * digest, the guest's policy and identity, the VMPCKs and the sequence number each VMPCK
 * expects next. Owned by the ASP; the launch commands and SNP_GUEST_REQUEST mutate it.
 */
import { initialLaunchDigest } from "../../shared/spec/index.js";

/** none → (LAUNCH_START) launching → (LAUNCH_FINISH) running. */
export type LaunchPhase = "none" | "launching" | "running";

export interface GuestContext {
  phase: LaunchPhase;
  policy: bigint;
  /** Guest OS-visible workarounds from LAUNCH_START (copied into the secrets page). */
  gosvw: Uint8Array;
  /** Launch digest (48 bytes): MEASUREMENT once running. */
  digest: Uint8Array;
  /** VMPCK0..3 (32 bytes each). */
  vmpck: Uint8Array[];
  /** Next MSG_SEQNO each VMPCK accepts (starts at 1; advances by 2 per exchange). */
  nextSeqno: bigint[];
  reportId: Uint8Array;
  hostData: Uint8Array;
  familyId: Uint8Array;
  imageId: Uint8Array;
  guestSvn: number;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  authorKeyEn: boolean;
  /** CURRENT_TCB at LAUNCH_START (report LAUNCH_TCB). */
  launchTcb: bigint;
}

export function emptyGuestContext(): GuestContext {
  return {
    phase: "none",
    policy: 0n,
    gosvw: new Uint8Array(16),
    digest: initialLaunchDigest(),
    vmpck: [0, 1, 2, 3].map(() => new Uint8Array(32)),
    nextSeqno: [1n, 1n, 1n, 1n],
    reportId: new Uint8Array(32),
    hostData: new Uint8Array(32),
    familyId: new Uint8Array(16),
    imageId: new Uint8Array(16),
    guestSvn: 0,
    idKeyDigest: new Uint8Array(48),
    authorKeyDigest: new Uint8Array(48),
    authorKeyEn: false,
    launchTcb: 0n,
  };
}
