/**
 * Errors of the guest model. The guest is the analysis target: these errors are about
 * how it was configured (a memory size too small for the kernel image, an unknown rootkit
 * name, a profile missing a member the model lays out), never about what it found.
 */
import { SevenError, type ErrorDetails } from "../shared/base/index.js";

export type GuestErrorCode =
  | "GUEST_RAM_TOO_SMALL" // the kernel image and the processes do not fit below guestRamEnd
  | "UNKNOWN_ROOTKIT" // --rootkit NAME not known
  | "BAD_ROOTKIT_ARG" // --rootkit NAME=ARG with an argument the scenario cannot use
  | "BAD_OPTION" // a GuestOptions field out of range
  | "PROFILE_INCOMPLETE" // the profile lacks types/members/symbols the model lays out (all listed)
  | "OUT_OF_MEMORY" // the model's physical allocator ran out of guest RAM
  | "NOT_BOOTED"; // asked for something that exists only after boot

export class GuestError extends SevenError<GuestErrorCode> {
  constructor(code: GuestErrorCode, message: string, details: ErrorDetails = {}) {
    super("guest", code, message, details);
  }
}
