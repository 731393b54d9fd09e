/** Test helper: the Debian 6.1 fixtures and the committed profile, loaded once per process. */
import { readFileSync } from "node:fs";
import { loadBtfProfile } from "../btf-profile.js";
import { loadIsfProfile } from "../isf-load.js";
import type { Profile } from "../profile.js";

export const FIXTURES = new URL("../../../../../shared/fixtures/linux/", import.meta.url);
export const KERNEL_DIR = new URL("debian-6.1.0-56-amd64/", FIXTURES);
export const BTF_URL = new URL("vmlinux.btf", KERNEL_DIR);
export const SYSTEM_MAP_URL = new URL("System.map", KERNEL_DIR);
export const PROFILE_URL = new URL("../../../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url);

/** The banner the guest printed as /proc/version (nokaslr ground truth). */
export const BANNER =
  "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)\n";

let btfBytes: Uint8Array | undefined;
let mapBytes: Uint8Array | undefined;
export function fixtureBytes(): { btf: Uint8Array; systemMap: Uint8Array } {
  btfBytes ??= new Uint8Array(readFileSync(BTF_URL));
  mapBytes ??= new Uint8Array(readFileSync(SYSTEM_MAP_URL));
  return { btf: btfBytes, systemMap: mapBytes };
}

let btfProfileCache: Profile | undefined;
let isfProfileCache: Profile | undefined;

export function btfFixtureProfile(): Profile {
  const { btf, systemMap } = fixtureBytes();
  btfProfileCache ??= loadBtfProfile(btf, systemMap, { banner: BANNER });
  return btfProfileCache;
}

export function committedProfile(): Profile {
  isfProfileCache ??= loadIsfProfile(new Uint8Array(readFileSync(PROFILE_URL)));
  return isfProfileCache;
}
