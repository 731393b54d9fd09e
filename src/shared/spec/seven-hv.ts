/**
 * The 00SEVen hypervisor extensions — our own ABI between the VMPL0 agent and the host,
 * carried in the agent's GHCB (SNP.md §6.1) with NAE exit codes from the
 * software-defined range. Everything the host says here is a hint the agent checks
 * against hardware state (e.g. a forwarded #NPF is checked against the exit information
 * the hardware wrote into the VMPL1 VMSA).
 */

/** VMGEXIT from the agent: "I am done for now". sw_exit_info_1 = AGENT_YIELD flags, sw_exit_info_2 = wake-up delay in ns (0: none). */
export const SEVEN_NAE_YIELD = 0x8000f001;

export const AGENT_YIELD = {
  /** The agent has more work queued: run VMPL0 again soon. */
  MORE_WORK: 1n << 0n,
  /** The agent has bytes for the host in the NIC TX ring. */
  TX_PENDING: 1n << 1n,
  /** The agent holds this vCPU's VMPL1 context (paused or held at an event): do not expect it to run. */
  HOLDING: 1n << 2n,
} as const;

/**
 * Why the host runs VMPL0 (written by the host into the agent GHCB's sw_exit_info_2
 * before VMRUN; the agent treats it as a hint).
 */
export const SEVEN_RUN_REASON = {
  NIC: 1n << 0n,
  /** A VMPL-permission #NPF of this vCPU's VMPL1 context is forwarded. */
  NPF_FORWARD: 1n << 1n,
  /** A #DB intercept of this vCPU's VMPL1 context (single-step) is forwarded. */
  DB_FORWARD: 1n << 2n,
  TIMER: 1n << 3n,
  BOOT: 1n << 4n,
} as const;
