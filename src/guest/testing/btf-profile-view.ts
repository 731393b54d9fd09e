/**
 * The fixture kernel's profile read straight from its BTF and System.map (the shared/kernel
 * BTF backend), for tests; the committed ISF profile is the production source.
 */
import { readFileSync } from "node:fs";
import { loadBtfProfile, type Profile } from "../../shared/kernel/index.js";
import { kernelInfoFromProfile, type KernelProfileView } from "../kernel-info.js";

export const FIXTURE_DIR = new URL("../../../../shared/fixtures/linux/", import.meta.url);

let cached: Profile | undefined;

export function fixtureProfile(): Profile {
  if (cached === undefined) {
    cached = loadBtfProfile(
      new Uint8Array(readFileSync(new URL("debian-6.1.0-56-amd64/vmlinux.btf", FIXTURE_DIR))),
      readFileSync(new URL("debian-6.1.0-56-amd64/System.map", FIXTURE_DIR), "utf8"),
    );
  }
  return cached;
}

export function fixtureProfileView(): KernelProfileView {
  return kernelInfoFromProfile(fixtureProfile());
}
