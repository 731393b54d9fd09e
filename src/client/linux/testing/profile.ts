/** The profile Linux-layer tests lay synthetic kernels out with: the committed ISF (loaded once). */
import { fileURLToPath } from "node:url";
import { loadIsfProfileFile, type Profile } from "../../../shared/kernel/index.js";

export const ISF_PATH = fileURLToPath(new URL("../../../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url));

let cached: Promise<Profile> | undefined;

export function testProfile(): Promise<Profile> {
  return (cached ??= loadIsfProfileFile(ISF_PATH));
}
