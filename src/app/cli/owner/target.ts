/**
 * Which machine a command looks at, from its flags:
 *   --target STATE_DIR/target.json   (what `seven host` wrote: endpoint, measurement, trust root, product, owner key)
 *   --connect HOST:PORT --measurement HEX --owner-key FILE [--trust-root FILE]... [--product NAME]
 *   --baseline HOST:PORT              (the non-confidential host's VMI server: no TLS, no attestation)
 *   --image FILE [--image-format raw|lime|elf]
 * and which kernel profile reads it: --profile FILE, or --btf FILE --system-map FILE, or (live
 * targets only) the committed Debian profile. Every bad combination is a usage error (exit 2)
 * with one line saying why, found before anything is opened.
 */
import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SevenError, fromHex, isSevenError } from "../../../shared/base/index.js";
import { loadBtfProfileFiles, loadIsfProfileFile, type Profile } from "../../../shared/kernel/index.js";
import {
  AgentV1Driver,
  loadOwnerIdentity,
  openImage,
  parseEndpoint,
  parseProduct,
  type Driver,
  type ImageDriver,
  type SnpProduct,
} from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { progressBar } from "./progress.js";

export interface TargetFlags {
  target?: string;
  connect?: string;
  baseline?: string;
  image?: string;
  imageFormat?: string;
  trustRoot?: string[];
  measurement?: string;
  ownerKey?: string;
  product?: string;
  profile?: string;
  btf?: string;
  systemMap?: string;
  timeout?: string;
}

/** What a command can work on. */
export type TargetNeed = "any" | "live" | "agent";

export interface OpenTarget {
  readonly kind: "agent" | "baseline" | "image";
  readonly driver: Driver;
  /** The attested agent (kind "agent" only). */
  readonly agent: AgentV1Driver | undefined;
  /** The live session: the agent or the baseline. */
  readonly live: AgentV1Driver | undefined;
  readonly image: ImageDriver | undefined;
  /** For people: "agent 127.0.0.1:7000", "image mem.lime". */
  readonly label: string;
  /** Identity for dump journals: endpoint and measurement, or the image path. */
  readonly source: string;
  close(): Promise<void>;
}

/** The profile used for live targets when none is given. */
export const DEFAULT_PROFILE = fileURLToPath(new URL("../../../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url));

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Adds the target flags; `kinds` limits which targets the command accepts. */
export function addTargetOptions(cmd: Command, need: TargetNeed, opts: { profile?: boolean } = {}): Command {
  cmd
    .option("--target <file>", "STATE_DIR/target.json written by `seven host`")
    .option("--connect <host:port>", "the agent's endpoint (with --measurement, --owner-key and --trust-root)")
    .option("--measurement <hex>", "expected launch measurement (48 bytes, from `seven measure`)")
    .option("--owner-key <file>", "the owner's private key (PEM), whose public key the agent's configuration holds")
    .option("--trust-root <file>", "a root certificate to trust besides AMD's (repeatable; e.g. the simulator's ark.pem)", collect)
    .option("--product <name>", "expected processor product (milan, genoa, turin)")
    .option("--timeout <seconds>", "fail when the agent answers nothing for this long", "10");
  if (need !== "agent") cmd.option("--baseline <host:port>", "the non-confidential host's VMI server (plain TCP, no attestation)");
  if (need === "any") cmd.option("--image <file>", "a memory image (raw, LiME or ELF core; gzip is read directly)").option("--image-format <format>", "raw, lime or elf (default: by magic)");
  if (opts.profile) {
    cmd
      .option("--profile <file>", "kernel profile (Volatility 3 ISF, .json or .json.gz)")
      .option("--btf <file>", "kernel BTF (with --system-map): build the profile on the fly")
      .option("--system-map <file>", "the kernel's System.map (with --btf)");
  }
  return cmd;
}

function usage(message: string): CliUsageError {
  return new CliUsageError(message);
}

/** Checks the flag combination (no I/O); returns which kind of target it names. */
export function checkTargetFlags(f: TargetFlags, need: TargetNeed, command: string): "target" | "connect" | "baseline" | "image" {
  const given = (["target", "connect", "baseline", "image"] as const).filter((k) => f[k] !== undefined);
  if (given.length === 0) {
    const list = need === "agent" ? "--target FILE or --connect HOST:PORT" : need === "live" ? "--target FILE, --connect HOST:PORT or --baseline HOST:PORT" : "--target FILE, --connect HOST:PORT, --baseline HOST:PORT or --image FILE";
    throw usage(`${command}: no target: give ${list}`);
  }
  if (given.length > 1) throw usage(`${command}: give only one of ${given.map((g) => `--${g}`).join(", ")}`);
  const kind = given[0]!;
  const attestFlags = (["measurement", "ownerKey", "trustRoot", "product"] as const).filter((k) => f[k] !== undefined && !(k === "trustRoot" && f.trustRoot!.length === 0));
  const flag = (k: string): string => "--" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
  if (kind === "connect") {
    const missing = (["measurement", "ownerKey"] as const).filter((k) => f[k] === undefined);
    if (missing.length > 0) throw usage(`${command}: --connect needs ${missing.map(flag).join(" and ")}`);
  } else if (kind === "target") {
    const extra = attestFlags.filter((k) => k !== "ownerKey" && k !== "trustRoot");
    if (extra.length > 0) throw usage(`${command}: ${extra.map(flag).join(", ")} come from target.json; drop them or use --connect`);
  } else if (attestFlags.length > 0) {
    throw usage(`${command}: ${attestFlags.map(flag).join(", ")} only apply to an attested agent (--target or --connect), not to --${kind}`);
  }
  if (kind === "image" && need !== "any") throw usage(`${command} needs a live target (--target, --connect${need === "live" ? " or --baseline" : ""}), not an image`);
  if (kind === "baseline" && need === "agent") throw usage(`${command} needs the attested agent (--target or --connect): the baseline has no traps or attestation`);
  if (f.imageFormat !== undefined && kind !== "image") throw usage(`${command}: --image-format only goes with --image`);
  if (f.imageFormat !== undefined && !["raw", "lime", "elf", "auto"].includes(f.imageFormat)) throw usage(`${command}: --image-format must be raw, lime or elf`);
  if (f.timeout !== undefined && !(Number(f.timeout) > 0 && Number(f.timeout) <= 3600)) throw usage(`${command}: --timeout must be a number of seconds (0 < s ≤ 3600), not ${JSON.stringify(f.timeout)}`);
  if (f.product !== undefined && parseProduct(f.product) === undefined) throw usage(`${command}: unknown product ${JSON.stringify(f.product)} (milan, genoa or turin)`);
  if (f.measurement !== undefined) measurementOf(f.measurement, command);
  for (const e of [f.connect, f.baseline]) {
    if (e === undefined) continue;
    try {
      parseEndpoint(e);
    } catch {
      throw usage(`${command}: bad endpoint ${JSON.stringify(e)}: expected HOST:PORT`);
    }
  }
  return kind;
}

/** Checks --profile / --btf / --system-map; `image` targets need one of them. */
export function checkProfileFlags(f: TargetFlags, kind: ReturnType<typeof checkTargetFlags>, command: string): void {
  if (f.profile !== undefined && (f.btf !== undefined || f.systemMap !== undefined)) throw usage(`${command}: give --profile FILE or --btf FILE --system-map FILE, not both`);
  if ((f.btf === undefined) !== (f.systemMap === undefined)) throw usage(`${command}: --btf and --system-map go together`);
  if (kind === "image" && f.profile === undefined && f.btf === undefined) throw usage(`${command}: an image needs --profile FILE or --btf FILE --system-map FILE`);
}

function measurementOf(hex: string, command: string): Uint8Array {
  let m: Uint8Array;
  try {
    m = fromHex(hex, "--measurement");
  } catch {
    throw usage(`${command}: --measurement is not hex`);
  }
  if (m.length !== 48) throw usage(`${command}: --measurement must be 48 bytes (96 hex digits), got ${m.length}`);
  return m;
}

async function readFileOr(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw usage(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

interface TargetFile {
  endpoint: string;
  mode: "sev-snp" | "plain";
  measurement: string | null;
  trustRoot: string | null;
  product: string | null;
  ownerKey: { privateKey?: string } | null;
}

async function readTargetFile(path: string, command: string): Promise<TargetFile> {
  const text = new TextDecoder().decode(await readFileOr(path, "the target file"));
  let j: Partial<TargetFile> & { format?: unknown };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    throw usage(`${command}: ${path} is not JSON (expected the target.json that \`seven host\` writes)`);
  }
  if (typeof j.endpoint !== "string" || (j.mode !== "sev-snp" && j.mode !== "plain")) {
    throw usage(`${command}: ${path} is not a target file (no endpoint/mode; expected format seven-target/1)`);
  }
  const base = dirname(resolve(path));
  const rel = (p: string | null | undefined): string | null => (typeof p === "string" ? resolve(base, p) : null);
  return {
    endpoint: j.endpoint,
    mode: j.mode,
    measurement: typeof j.measurement === "string" ? j.measurement : null,
    trustRoot: rel(j.trustRoot),
    product: typeof j.product === "string" ? j.product : null,
    ownerKey: j.ownerKey && typeof j.ownerKey === "object" ? { ...(typeof j.ownerKey.privateKey === "string" ? { privateKey: rel(j.ownerKey.privateKey)! } : {}) } : null,
  };
}

function timeoutMs(f: TargetFlags): number {
  return Math.round(Number(f.timeout ?? "10") * 1000);
}

/** Opens the target the flags name (after `checkTargetFlags`). */
export async function openTarget(f: TargetFlags, need: TargetNeed, command: string): Promise<OpenTarget> {
  const kind = checkTargetFlags(f, need, command);
  const timeout = timeoutMs(f);
  if (kind === "image") {
    const bar = progressBar("loading image", "MiB");
    let image: ImageDriver;
    try {
      image = await openImage(f.image!, {
        format: f.imageFormat === "elf" ? "elf-core" : ((f.imageFormat ?? "auto") as "raw" | "lime" | "auto"),
        onProgress: (p) => bar.update(p.done, p.total),
      });
    } finally {
      bar.stop();
    }
    return { kind: "image", driver: image, agent: undefined, live: undefined, image, label: `image ${f.image}`, source: `image:${resolve(f.image!)}`, close: () => image.close() };
  }
  if (kind === "baseline") {
    const d = await AgentV1Driver.connectBaseline({ endpoint: f.baseline!, timeoutMs: timeout });
    return live("baseline", d, `baseline ${d.endpoint}`, `baseline:${d.endpoint}`);
  }
  let endpoint: string;
  let measurement: Uint8Array;
  let trustRoots: string[];
  let ownerKeyPath: string | undefined;
  let product: SnpProduct | undefined;
  if (kind === "target") {
    const t = await readTargetFile(f.target!, command);
    if (t.mode === "plain") {
      if (need === "agent") throw usage(`${command} needs the attested agent: ${f.target} describes a non-confidential (plain) host`);
      const d = await AgentV1Driver.connectBaseline({ endpoint: t.endpoint, timeoutMs: timeout });
      return live("baseline", d, `baseline ${d.endpoint}`, `baseline:${d.endpoint}`);
    }
    if (t.measurement === null) throw usage(`${command}: ${f.target} has no measurement`);
    endpoint = t.endpoint;
    measurement = measurementOf(t.measurement, command);
    trustRoots = [...(t.trustRoot !== null ? [t.trustRoot] : []), ...(f.trustRoot ?? [])];
    ownerKeyPath = f.ownerKey ?? t.ownerKey?.privateKey;
    if (ownerKeyPath === undefined) throw usage(`${command}: ${f.target} names no owner private key: add --owner-key FILE`);
    product = t.product !== null ? parseProduct(t.product) : undefined;
  } else {
    endpoint = f.connect!;
    measurement = measurementOf(f.measurement!, command);
    trustRoots = f.trustRoot ?? [];
    ownerKeyPath = f.ownerKey!;
    product = f.product !== undefined ? parseProduct(f.product) : undefined;
  }
  const owner = await loadOwnerIdentity(ownerKeyPath);
  const roots = await Promise.all(trustRoots.map((p) => readFileOr(p, "the trust root")));
  const d = await AgentV1Driver.connectAgent({
    endpoint,
    owner,
    measurement,
    trustRoots: roots,
    ...(product !== undefined ? { product } : {}),
    timeoutMs: timeout,
  });
  return live("agent", d, `agent ${d.endpoint}`, `agent:${d.endpoint}:${Buffer.from(measurement).toString("hex")}`);
}

function live(kind: "agent" | "baseline", d: AgentV1Driver, label: string, source: string): OpenTarget {
  return { kind, driver: d, agent: kind === "agent" ? d : undefined, live: d, image: undefined, label, source, close: () => d.close() };
}

/** Loads the profile the flags name (default for live targets: the committed Debian profile). */
export async function loadProfile(f: TargetFlags): Promise<Profile> {
  const what = f.btf !== undefined ? `profile from ${f.btf} + ${f.systemMap}` : `profile ${f.profile ?? DEFAULT_PROFILE}`;
  try {
    if (f.btf !== undefined && f.systemMap !== undefined) return await loadBtfProfileFiles(f.btf, f.systemMap);
    return await loadIsfProfileFile(f.profile ?? DEFAULT_PROFILE);
  } catch (e) {
    // Say which profile, keep the code ("seven: profile x.json: JSON: unexpected end … [JSON_SYNTAX]").
    if (isSevenError(e) && !e.message.includes(f.profile ?? f.btf ?? DEFAULT_PROFILE)) throw new SevenError(e.domain, e.code, `${what}: ${e.message}`, e.details, { cause: e });
    throw e;
  }
}
