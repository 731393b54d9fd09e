/**
 * Offsets declared once, resolved at attach time (DRAKVUF linux-offsets-map style): a
 * consumer lists the (struct, member) pairs and symbols it needs; resolving checks them
 * all against the profile and reports every missing one in a single ProfileError, so a
 * kernel that lacks three members says so once, naming all three.
 *
 *   const OFFSETS = { task_struct: ["tasks", "pid", "comm"], mm_struct: ["pgd"] } as const;
 *   const o = resolveOffsets(profile, OFFSETS);   // o.task_struct.tasks === 2192
 */
import { ProfileError } from "./errors.js";
import { isSevenError } from "../base/index.js";
import type { MemberInfo, Profile } from "./profile.js";

export type OffsetSpec = { readonly [struct: string]: readonly string[] };

export type ResolvedMembers<S extends OffsetSpec> = { readonly [K in keyof S]: { readonly [M in S[K][number]]: MemberInfo } };
export type ResolvedOffsets<S extends OffsetSpec> = { readonly [K in keyof S]: { readonly [M in S[K][number]]: number } };
export type ResolvedSymbols<N extends readonly string[]> = { readonly [K in N[number]]: bigint };

export interface MissingMember {
  readonly struct: string;
  readonly member: string;
  /** ProfileError code: UNKNOWN_TYPE, UNKNOWN_MEMBER or NOT_A_STRUCT. */
  readonly reason: string;
}

function describeMissing(m: MissingMember): string {
  switch (m.reason) {
    case "UNKNOWN_TYPE":
      return `${m.struct}.${m.member} (no type ${m.struct})`;
    case "NOT_A_STRUCT":
      return `${m.struct}.${m.member} (path goes through a non-struct member)`;
    default:
      return `${m.struct}.${m.member}`;
  }
}

/** Every (struct, member) of the spec as MemberInfo; throws MISSING_OFFSETS listing all missing ones. */
export function resolveMembers<const S extends OffsetSpec>(profile: Profile, spec: S): ResolvedMembers<S> {
  const missing: MissingMember[] = [];
  // Object.fromEntries defines own properties, whatever the names (even "__proto__").
  const out = Object.fromEntries(
    Object.keys(spec).map((struct) => {
      const members: [string, MemberInfo][] = [];
      for (const member of spec[struct]!) {
        try {
          members.push([member, profile.member(struct, member)]);
        } catch (e) {
          if (!isSevenError(e) || !["UNKNOWN_TYPE", "UNKNOWN_MEMBER", "NOT_A_STRUCT"].includes(e.code)) throw e;
          missing.push({ struct, member, reason: e.code });
        }
      }
      return [struct, Object.fromEntries(members)];
    }),
  );
  if (missing.length > 0) {
    throw new ProfileError("MISSING_OFFSETS", `the kernel profile lacks ${missing.length} member(s): ${missing.map(describeMissing).join(", ")}`, {
      missing,
    });
  }
  return out as unknown as ResolvedMembers<S>;
}

/** Byte offsets of every (struct, member) of the spec; throws MISSING_OFFSETS listing all missing ones. */
export function resolveOffsets<const S extends OffsetSpec>(profile: Profile, spec: S): ResolvedOffsets<S> {
  const members = resolveMembers(profile, spec) as unknown as Record<string, Record<string, MemberInfo>>;
  return Object.fromEntries(
    Object.entries(members).map(([struct, ms]) => [struct, Object.fromEntries(Object.entries(ms).map(([m, info]) => [m, info.offset]))]),
  ) as unknown as ResolvedOffsets<S>;
}

/** Un-slid addresses of every named symbol; throws MISSING_SYMBOLS listing all missing ones. */
export function resolveSymbols<const N extends readonly string[]>(profile: Profile, names: N): ResolvedSymbols<N> {
  const found: [string, bigint][] = [];
  const missing: string[] = [];
  for (const n of names) {
    const a = profile.symbolAddress(n);
    if (a === undefined) missing.push(n);
    else found.push([n, a]);
  }
  if (missing.length > 0) {
    throw new ProfileError("MISSING_SYMBOLS", `the kernel profile lacks ${missing.length} symbol(s): ${missing.join(", ")}`, { missing });
  }
  return Object.fromEntries(found) as unknown as ResolvedSymbols<N>;
}
