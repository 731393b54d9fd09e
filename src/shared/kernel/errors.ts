/**
 * Errors of the kernel type-information layer. Malformed input (BTF bytes, System.map
 * text, ISF JSON) raises `DecodeError` from shared/base and nothing else; asking a
 * well-formed profile for something it does not have raises `ProfileError`.
 */
import { SevenError, type ErrorDetails } from "../base/index.js";

export type ProfileErrorCode =
  | "UNKNOWN_TYPE" // no user type / base type / enum of that name
  | "UNKNOWN_MEMBER" // the struct has no such member (path element)
  | "NOT_A_STRUCT" // a path continues through a member that is not a struct/union by value
  | "UNKNOWN_ENUM_CONSTANT"
  | "UNKNOWN_SYMBOL"
  | "MISSING_OFFSETS" // resolveOffsets/resolveMembers: everything missing, listed together
  | "MISSING_SYMBOLS" // resolveSymbols: everything missing, listed together
  | "BAD_ARGUMENT" // a caller passed something unusable (empty path, bad option)
  | "FILE_ERROR"; // an input file could not be read

export class ProfileError extends SevenError<ProfileErrorCode> {
  constructor(code: ProfileErrorCode, message: string, details: ErrorDetails = {}) {
    super("kernel", code, message, details);
  }
}
