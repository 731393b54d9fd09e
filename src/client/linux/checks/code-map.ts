/**
 * Where code may legitimately live: the kernel's text [_stext, _etext) and each listed
 * module's text (core layout base .. base + text_size). Function pointers anywhere else
 * are what hooks look like. Module *images* (whole core layout) are known too, for ops
 * tables that live in module data.
 */
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { MODULES, listModules, untrustedModule, type Module } from "../walkers/modules.js";
import { START_KERNEL_MAP } from "../constants.js";

export const CODE = requirements("code-map", { symbols: ["_stext", "_etext", "_text", "_end"], uses: [MODULES] });

export type CodePlace =
  | { readonly kind: "kernel" }
  | { readonly kind: "module"; readonly module: Module }
  | { readonly kind: "none" };

/**
 * Where a function pointer may point, by who owns the pointer:
 * - "kernel-only": the kernel's own tables and entry points — kernel text.
 * - "owner": a module's own table — kernel text, its own module's text, or a vouched-for module's.
 * - "trusted": hooks anyone can register (netfilter, notifiers) and tables on the heap —
 *   kernel text or the text of a module whose code is vouched for (signed, in tree).
 */
export type CodePolicy = "kernel-only" | "owner" | "trusted";

export interface Verdict {
  readonly severity: "high" | "medium";
  readonly detail: string;
}

export class CodeMap {
  readonly textStart: bigint;
  readonly textEnd: bigint;
  readonly imageStart: bigint;
  readonly imageEnd: bigint;
  readonly modules: readonly Module[];
  /** Set when the module list could not be walked (then only kernel text counts). */
  readonly moduleError: string | undefined;
  readonly #k: LinuxKernel;

  constructor(k: LinuxKernel, modules: readonly Module[], moduleError?: string) {
    const b = k.bound(CODE);
    this.#k = k;
    this.textStart = b.sym._stext;
    this.textEnd = b.sym._etext;
    this.imageStart = b.sym._text;
    this.imageEnd = b.sym._end;
    this.modules = modules;
    this.moduleError = moduleError;
  }

  inKernelText(a: bigint): boolean {
    return a >= this.textStart && a < this.textEnd;
  }

  /** Anywhere in the kernel image (text, rodata, data, bss). */
  inKernelImage(a: bigint): boolean {
    return a >= this.imageStart && a < this.imageEnd;
  }

  moduleText(a: bigint): Module | undefined {
    return this.modules.find((m) => a >= m.base && a < m.base + BigInt(m.textSize));
  }

  /** The module whose core layout (text and data) holds `a`. */
  moduleImage(a: bigint): Module | undefined {
    return this.modules.find((m) => a >= m.base && a < m.base + BigInt(m.size));
  }

  where(a: bigint): CodePlace {
    if (this.inKernelText(a)) return { kind: "kernel" };
    const m = this.moduleText(a);
    return m ? { kind: "module", module: m } : { kind: "none" };
  }

  isCode(a: bigint): boolean {
    return this.where(a).kind !== "none";
  }

  /** Is `a` static data of the kernel or of a listed module (where ops tables live)? */
  isStatic(a: bigint): boolean {
    return this.inKernelImage(a) || this.moduleImage(a) !== undefined;
  }

  /** Who owns a table at `a`: the kernel image, a module, or neither (heap). */
  owner(a: bigint): "kernel" | Module | undefined {
    if (this.inKernelImage(a)) return "kernel";
    return this.moduleImage(a);
  }

  /** The policy for function pointers stored in a table at `a`. */
  policyFor(table: bigint): { policy: CodePolicy; owner?: Module } {
    const o = this.owner(table);
    if (o === "kernel") return { policy: "kernel-only" };
    if (o !== undefined) return { policy: "owner", owner: o };
    return { policy: "trusted" };
  }

  /** Why `fn` is not an acceptable function pointer under `policy`, or undefined when it is. */
  judge(fn: bigint, policy: CodePolicy, owner?: Module): Verdict | undefined {
    const w = this.where(fn);
    if (w.kind === "none") return { severity: "high", detail: `points to ${this.describe(fn)}` };
    if (w.kind === "kernel") return undefined;
    if (policy === "kernel-only") return { severity: "high", detail: `points to ${this.describe(fn)}, not kernel text` };
    if (policy === "owner" && owner !== undefined && w.module.address === owner.address) return undefined;
    const why = untrustedModule(w.module);
    return why === undefined ? undefined : { severity: "medium", detail: `points to ${this.describe(fn)}, whose code is not vouched for (${why})` };
  }

  /** "vfs_read+0x10", "module loop+0x120", or "0xffff… (outside kernel and module text)". */
  describe(a: bigint): string {
    const w = this.where(a);
    if (w.kind === "kernel") return this.#k.symbolName(a) ?? "0x" + a.toString(16);
    if (w.kind === "module") return `module ${w.module.name}+0x${(a - w.module.base).toString(16)}`;
    if (a >= START_KERNEL_MAP && this.inKernelImage(a)) return `${this.#k.symbolName(a) ?? "0x" + a.toString(16)} (kernel data, not text)`;
    const m = this.moduleImage(a);
    if (m) return `module ${m.name}+0x${(a - m.base).toString(16)} (module data, not text)`;
    return `0x${a.toString(16)} (outside kernel and module text)`;
  }
}

export async function buildCodeMap(k: LinuxKernel): Promise<CodeMap> {
  try {
    return new CodeMap(k, await listModules(k));
  } catch (e) {
    if (e instanceof Error && "code" in e) return new CodeMap(k, [], (e as Error).message);
    throw e;
  }
}
