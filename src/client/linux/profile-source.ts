/**
 * Loading the kernel profile a session runs against: an ISF file (Volatility 3 format,
 * plain or gzip) or BTF + System.map read on the fly. Both are untrusted input: malformed
 * bytes raise DecodeError (from shared/kernel), unreadable files ProfileError FILE_ERROR,
 * and asking for neither or both LinuxError BAD_ARGUMENT.
 */
import { loadBtfProfileFiles, loadIsfProfile, loadIsfProfileFile, type Profile } from "../../shared/kernel/index.js";
import { LinuxError } from "./errors.js";

export type ProfileSource =
  | { readonly isf: string | Uint8Array }
  | { readonly btf: string; readonly systemMap: string; readonly banner?: string };

export async function loadKernelProfile(src: ProfileSource): Promise<Profile> {
  const s = src as { isf?: unknown; btf?: unknown; systemMap?: unknown; banner?: unknown };
  if (s.isf !== undefined && (s.btf !== undefined || s.systemMap !== undefined)) {
    throw new LinuxError("BAD_ARGUMENT", "give an ISF profile or --btf with --system-map, not both", { argument: "profile" });
  }
  if (s.isf !== undefined) {
    if (typeof s.isf === "string") return loadIsfProfileFile(s.isf);
    if (s.isf instanceof Uint8Array) return loadIsfProfile(s.isf);
  }
  if (typeof s.btf === "string" && typeof s.systemMap === "string") {
    return loadBtfProfileFiles(s.btf, s.systemMap, typeof s.banner === "string" ? { banner: s.banner } : {});
  }
  throw new LinuxError("BAD_ARGUMENT", "a profile needs an ISF file, or both --btf and --system-map", { argument: "profile" });
}
