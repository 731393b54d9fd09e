/**
 * What each walker, plugin and check needs from a kernel profile, declared ONCE as a typed
 * table (DRAKVUF linux-offsets-map.h): (struct, member) pairs, symbols and type sizes.
 * `checkRequirements` resolves every table of every plugin against a profile and reports
 * ALL missing names together in one `MISSING_REQUIREMENTS` error naming plugin, struct and
 * member; `bindRequirements` then yields the numbers, with symbol addresses slid.
 *
 *   export const TASKS = requirements("tasks", {
 *     members: { task_struct: ["tasks", "pid", "comm"] },
 *     symbols: ["init_task"],
 *     sizes: ["task_struct"],
 *   });
 *   const b = kernel.bound(TASKS);  // b.o.task_struct.comm === 2976, b.sym.init_task (slid)
 *
 * Members a kernel may lack by configuration go in `optional`; they are looked up but
 * never reported missing (`b.opt["module.sig_ok"]` is undefined then).
 */
import {
  ProfileError,
  resolveMembers,
  type MemberInfo,
  type OffsetSpec,
  type Profile,
  type ResolvedMembers,
  type ResolvedOffsets,
} from "../../shared/kernel/index.js";
import { START_KERNEL_MAP } from "./constants.js";
import { LinuxError } from "./errors.js";

export interface Requirements<
  S extends OffsetSpec = OffsetSpec,
  Y extends readonly string[] = readonly string[],
  Z extends readonly string[] = readonly string[],
> {
  /** Who declared it (plugin, check or walker name): reported with missing names. */
  readonly name: string;
  readonly members: S;
  readonly symbols: Y;
  readonly sizes: Z;
  /** Tables this one builds on (a plugin lists the walkers it calls). */
  readonly uses: readonly AnyRequirements[];
  /** Members used when the kernel has them (config-dependent, e.g. module.sig_ok): never "missing". */
  readonly optional: OffsetSpec;
}

export type AnyRequirements = Requirements<OffsetSpec, readonly string[], readonly string[]>;

export interface Bound<S extends OffsetSpec, Y extends readonly string[], Z extends readonly string[]> {
  readonly name: string;
  /** Byte offsets: `o.task_struct.comm`. */
  readonly o: ResolvedOffsets<S>;
  /** Full member info (type descriptors, array counts): `m.net["nf.hooks_ipv4"]`. */
  readonly m: ResolvedMembers<S>;
  /** sizeof: `size.task_struct`. */
  readonly size: { readonly [K in Z[number]]: number };
  /** Symbol addresses, slid (per-cpu offsets and absolute symbols below __START_KERNEL_map are not). */
  readonly sym: { readonly [K in Y[number]]: bigint };
  /** Optional members: MemberInfo, or undefined when this kernel lacks them (`opt["module.sig_ok"]`). */
  readonly opt: Readonly<Record<string, MemberInfo | undefined>>;
}

export type BoundOf<R> = R extends Requirements<infer S, infer Y, infer Z> ? Bound<S, Y, Z> : never;

/** Declares a requirements table. */
export function requirements<
  const S extends OffsetSpec = Record<never, never>,
  const Y extends readonly string[] = readonly [],
  const Z extends readonly string[] = readonly [],
>(name: string, spec: { members?: S; symbols?: Y; sizes?: Z; uses?: readonly AnyRequirements[]; optional?: OffsetSpec }): Requirements<S, Y, Z> {
  return Object.freeze({
    name,
    members: (spec.members ?? {}) as S,
    symbols: (spec.symbols ?? []) as unknown as Y,
    sizes: (spec.sizes ?? []) as unknown as Z,
    uses: spec.uses ?? [],
    optional: spec.optional ?? {},
  });
}

/** One missing name, as reported in MISSING_REQUIREMENTS. */
export type MissingRequirement =
  | { readonly plugin: string; readonly kind: "member"; readonly struct: string; readonly member: string; readonly reason: string }
  | { readonly plugin: string; readonly kind: "symbol"; readonly symbol: string }
  | { readonly plugin: string; readonly kind: "type"; readonly type: string };

/** The tables and everything they use, each once, in declaration order. */
export function flattenRequirements(reqs: readonly AnyRequirements[]): AnyRequirements[] {
  const out: AnyRequirements[] = [];
  const seen = new Set<AnyRequirements>();
  const visit = (r: AnyRequirements, depth: number): void => {
    if (seen.has(r) || depth > 32) return;
    seen.add(r);
    for (const u of r.uses) visit(u, depth + 1);
    out.push(r);
  };
  for (const r of reqs) visit(r, 0);
  return out;
}

interface Unslid {
  readonly m: Record<string, Record<string, MemberInfo>>;
  readonly size: Record<string, number>;
  readonly sym: Record<string, bigint>;
}

function resolveOne(profile: Profile, r: AnyRequirements, missing: MissingRequirement[]): Unslid | undefined {
  const before = missing.length;
  let m: Record<string, Record<string, MemberInfo>> = {};
  try {
    m = resolveMembers(profile, r.members) as unknown as Record<string, Record<string, MemberInfo>>;
  } catch (e) {
    if (!(e instanceof ProfileError) || e.code !== "MISSING_OFFSETS") throw e;
    const list = (e.details["missing"] ?? []) as readonly { struct: string; member: string; reason: string }[];
    for (const x of list) missing.push({ plugin: r.name, kind: "member", struct: x.struct, member: x.member, reason: x.reason });
  }
  const size: Record<string, number> = {};
  for (const t of r.sizes) {
    if (profile.hasType(t)) size[t] = profile.sizeOf(t);
    else missing.push({ plugin: r.name, kind: "type", type: t });
  }
  const sym: Record<string, bigint> = {};
  for (const s of r.symbols) {
    const a = profile.symbolAddress(s);
    if (a === undefined) missing.push({ plugin: r.name, kind: "symbol", symbol: s });
    else sym[s] = a;
  }
  return missing.length === before ? { m, size, sym } : undefined;
}

function describe(m: MissingRequirement): string {
  switch (m.kind) {
    case "member":
      return `${m.plugin}: ${m.struct}.${m.member}`;
    case "symbol":
      return `${m.plugin}: symbol ${m.symbol}`;
    case "type":
      return `${m.plugin}: type ${m.type}`;
  }
}

/** Every missing name of every table (and what they use); empty when the profile has them all. */
export function missingRequirements(profile: Profile, reqs: readonly AnyRequirements[]): MissingRequirement[] {
  const missing: MissingRequirement[] = [];
  for (const r of flattenRequirements(reqs)) resolveOne(profile, r, missing);
  return missing;
}

/** Throws MISSING_REQUIREMENTS listing every missing name of every table at once. */
export function checkRequirements(profile: Profile, reqs: readonly AnyRequirements[]): void {
  const missing = missingRequirements(profile, reqs);
  if (missing.length > 0) {
    throw new LinuxError(
      "MISSING_REQUIREMENTS",
      `the kernel profile lacks ${missing.length} name(s) the plugins need: ${missing.map(describe).join(", ")}`,
      { missing },
    );
  }
}

/** A symbol's run-time address: kernel-image symbols move by the virtual slide, the rest do not. */
export function slideSymbol(address: bigint, virtSlide: bigint): bigint {
  return address >= START_KERNEL_MAP ? BigInt.asUintN(64, address + virtSlide) : address;
}

/** Resolves tables (checking all first) into their bound numbers, symbols slid. */
export function bindRequirements(profile: Profile, reqs: readonly AnyRequirements[], virtSlide: bigint): Map<AnyRequirements, Bound<OffsetSpec, readonly string[], readonly string[]>> {
  checkRequirements(profile, reqs);
  const out = new Map<AnyRequirements, Bound<OffsetSpec, readonly string[], readonly string[]>>();
  for (const r of flattenRequirements(reqs)) {
    const u = resolveOne(profile, r, [])!;
    const o: Record<string, Record<string, number>> = {};
    for (const [s, ms] of Object.entries(u.m)) {
      const x: Record<string, number> = {};
      for (const [k, info] of Object.entries(ms)) x[k] = info.offset;
      o[s] = x;
    }
    const sym: Record<string, bigint> = {};
    for (const [k, a] of Object.entries(u.sym)) sym[k] = slideSymbol(a, virtSlide);
    const opt: Record<string, MemberInfo | undefined> = {};
    for (const [st, ms] of Object.entries(r.optional)) for (const m of ms) opt[`${st}.${m}`] = profile.findMember(st, m);
    out.set(r, { name: r.name, o, m: u.m, size: u.size, sym, opt } as unknown as Bound<OffsetSpec, readonly string[], readonly string[]>);
  }
  return out;
}
