/**
 * `seven measure --vcpus N [--memory SIZE] [--owner-key FILE] [--legacy-v0] [--json]`:
 * the launch measurement an owner should expect from `seven host` with the same options
 * (same function as the host's launch, src/app/world/launch-inputs.ts).
 */
import type { Command } from "commander";
import { createHash } from "node:crypto";
import { toHex } from "../../../shared/base/index.js";
import { asWorldError } from "../../world/errors.js";
import { launchInputsFor, measureHex } from "../../world/launch-inputs.js";
import { parseMemory, parseVcpus, readOwnerKey } from "../../world/options.js";
import { DEFAULT_MEMORY } from "../../world/world-defaults.js";

interface MeasureOpts {
  vcpus: string;
  memory: string;
  ownerKey?: string;
  legacyV0?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("measure")
    .description("print the launch measurement to expect from `seven host` with these options")
    .requiredOption("--vcpus <n>", "number of vCPUs")
    .option("--memory <size>", "guest memory (e.g. 256M, 1G)", DEFAULT_MEMORY)
    .option("--owner-key <file>", "the owner's public key (PEM or DER; a private key file also works here)")
    .option("--legacy-v0", "the agent's configuration allows the prototype's v0 protocol")
    .option("--json", "print JSON")
    .action((o: MeasureOpts) => {
      try {
        const vcpus = parseVcpus(o.vcpus);
        const memoryBytes = parseMemory(o.memory, vcpus);
        const ownerKey = o.ownerKey !== undefined ? readOwnerKey(o.ownerKey, { allowPrivate: true }) : undefined;
        const shape = { memoryBytes, vcpus, legacyV0: o.legacyV0 === true, ...(ownerKey !== undefined ? { ownerKey } : {}) };
        const hex = measureHex(shape);
        if (o.json === true) {
          const inputs = launchInputsFor(shape);
          const doc = {
            measurement: hex,
            vcpus,
            memoryBytes: memoryBytes.toString(),
            legacyV0: shape.legacyV0,
            ownerKeySha256: ownerKey !== undefined ? createHash("sha256").update(ownerKey).digest("hex") : null,
            agentImageSha384: toHex(createHash("sha384").update(inputs.agentImage).digest()),
            agentConfigSha384: toHex(createHash("sha384").update(inputs.agentConfig).digest()),
          };
          process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
        } else {
          process.stdout.write(hex + "\n");
        }
      } catch (e) {
        throw asWorldError(e);
      }
    });
}
