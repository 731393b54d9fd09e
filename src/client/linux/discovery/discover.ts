/**
 * `discoverKernel(vmi, profile)`: the KASLR virtual and physical slides, phys_base,
 * page_offset_base and the kernel page-table root, from memory alone (banner and swapper
 * routes) and, when the driver has registers, from them too (IDT, LSTAR). Every route
 * that finds the kernel must agree; the memory routes decide, register routes are
 * cross-checks (a hooked LSTAR must not stop introspection — the checks report it).
 */
import { readU64 } from "../../../shared/base/index.js";
import type { Profile } from "../../../shared/kernel/index.js";
import { type Vmi, VmiError, dtbVa, type VcpuRegisters } from "../../vmi/index.js";
import { START_KERNEL_MAP } from "../constants.js";
import { LinuxError } from "../errors.js";
import { scanAll } from "./probe.js";
import { bannerRoute, registerRoutes, swapperRoute, type MemoryRouteFind } from "./routes.js";
import type { CrossCheck, DiscoverOptions, KernelLocation, RouteResult } from "./types.js";

const hex = (v: bigint): string => "0x" + v.toString(16);

function req(profile: Profile, name: string): bigint {
  const a = profile.symbolAddress(name);
  if (a === undefined) throw new LinuxError("MISSING_REQUIREMENTS", `kernel discovery needs symbol ${name}`, { missing: [{ plugin: "discovery", kind: "symbol", symbol: name }] });
  return a;
}

async function registersOf(vmi: Vmi): Promise<VcpuRegisters[]> {
  if (!vmi.driver.capabilities.registers) return [];
  try {
    return await vmi.vcpuRegisters();
  } catch (e) {
    if (e instanceof VmiError) return [];
    throw e;
  }
}

export async function discoverKernel(vmi: Vmi, profile: Profile, opts: DiscoverOptions = {}): Promise<KernelLocation> {
  const t0 = performance.now();
  const missing = ["_text", "_end", "linux_banner", "init_top_pgt", "page_offset_base", "phys_base"].filter((n) => profile.symbolAddress(n) === undefined);
  if (missing.length > 0) {
    throw new LinuxError("MISSING_REQUIREMENTS", `kernel discovery needs symbol(s) ${missing.join(", ")}`, {
      missing: missing.map((symbol) => ({ plugin: "discovery", kind: "symbol", symbol })),
    });
  }
  const batch = opts.batch ?? 4096;
  const want = new Set(opts.routes ?? ["banner", "swapper", "idt", "lstar"]);
  const routes: RouteResult[] = [];
  let banner: MemoryRouteFind | undefined;
  if (want.has("banner")) {
    banner = await bannerRoute(vmi, profile, batch);
    routes.push(banner);
  }
  if (want.has("swapper")) routes.push(await swapperRoute(vmi, profile, batch));
  if ((opts.useRegisters ?? true) && (want.has("idt") || want.has("lstar"))) {
    const regRoutes = await registerRoutes(vmi, profile, await registersOf(vmi));
    routes.push(...regRoutes.filter((r) => want.has(r.route)));
  }

  const memoryFound = routes.filter((r) => (r.route === "banner" || r.route === "swapper") && r.status === "found");
  const anyFound = routes.filter((r) => r.status === "found" && r.physText !== undefined);
  const primary = memoryFound[0] ?? anyFound[0];
  if (primary === undefined || primary.virtSlide === undefined || primary.physText === undefined) {
    const details: Record<string, unknown> = { routes };
    if (opts.diagnose ?? true) {
      const at = await scanAll(vmi, new TextEncoder().encode("Linux version "), 4);
      details["bannersAt"] = at;
      if (at.length > 0) {
        const [b] = await vmi.readManySettled([{ ctx: { kind: "pa", addr: at[0]! }, len: 160 }]);
        if (b instanceof Uint8Array) details["bannerFound"] = new TextDecoder().decode(b.subarray(0, Math.max(0, b.indexOf(0)) || b.length)).split("\n")[0];
      }
    }
    const why = details["bannerFound"] ? ` (memory holds "${String(details["bannerFound"])}" — is the profile for this kernel?)` : "";
    throw new LinuxError("KERNEL_NOT_FOUND", `no route located the kernel${why}`, details);
  }
  for (const r of memoryFound) {
    if (r.virtSlide !== primary.virtSlide || r.physText !== primary.physText) {
      throw new LinuxError("DISCOVERY_MISMATCH", `the ${primary.route} and ${r.route} routes disagree on where the kernel is`, { routes });
    }
  }

  const slide = primary.virtSlide;
  const physText = primary.physText;
  const text = req(profile, "_text");
  const dtb = physText + (req(profile, "init_top_pgt") - text);
  const checks: CrossCheck[] = [];
  for (const r of routes) {
    if (r === primary || r.status !== "found") continue;
    const same = r.virtSlide === slide && (r.physText === undefined || r.physText === physText);
    checks.push({
      name: `${primary.route} vs ${r.route}`,
      ok: same,
      detail: same ? `both give slide ${hex(slide)}` : `${r.route} gives slide ${hex(r.virtSlide ?? 0n)}${r.physText !== undefined ? `, _text at PA ${hex(r.physText)}` : ""}`,
    });
  }

  // Variables read through the page tables just found.
  const slid = (name: string): bigint => req(profile, name) + slide;
  const [pob, pb] = await vmi.readMany([
    { ctx: dtbVa(dtb, slid("page_offset_base")), len: 8 },
    { ctx: dtbVa(dtb, slid("phys_base")), len: 8 },
  ]);
  const pageOffsetBase = readU64(pob!, 0);
  const physBase = readU64(pb!, 0);
  const expectPhysBase = BigInt.asUintN(64, physText - (text + slide - START_KERNEL_MAP));
  checks.push({ name: "phys_base", ok: physBase === expectPhysBase, detail: `memory holds ${hex(physBase)}, placement gives ${hex(expectPhysBase)}` });
  const bannerPa = banner?.bannerPa ?? physText + (req(profile, "linux_banner") - text);
  const [dm] = await vmi.pageWalkMany([{ dtb, va: BigInt.asUintN(64, pageOffsetBase + bannerPa) }]);
  const dmOk = dm !== undefined && !(dm instanceof VmiError) && dm.pa === bannerPa;
  checks.push({ name: "direct map", ok: dmOk, detail: `page_offset_base ${hex(pageOffsetBase)} + banner PA ${dmOk ? "maps back to it" : "does not map back to it"}` });
  const bannerText = await vmi.readCString({ kind: "pa", addr: bannerPa }, 512);
  for (const c of checks) {
    if (!c.ok && (c.name === "phys_base" || c.name === "direct map")) {
      throw new LinuxError("DISCOVERY_MISMATCH", `kernel discovery cross-check failed: ${c.name}: ${c.detail}`, { routes, checks });
    }
  }
  return {
    virtSlide: slide,
    physText,
    physSlide: BigInt.asIntN(64, physText - (text - START_KERNEL_MAP)),
    physBase,
    pageOffsetBase,
    dtb,
    bannerPa,
    banner: bannerText.replace(/\n$/, ""),
    routes,
    checks,
    ms: performance.now() - t0,
  };
}
