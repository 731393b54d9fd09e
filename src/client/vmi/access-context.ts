/**
 * The access context (LibVMI `access_context_t`): which address space an address is in.
 * - `pa`: guest-physical address.
 * - `kva`: kernel virtual address, translated with the Vmi's kernel DTB.
 * - `dtb`: virtual address under an explicit page-table root (CR3 value).
 * - `pid`: virtual address in a process; its DTB comes from the pid resolver hook.
 * - `ksym`: a kernel symbol (+ offset); its address comes from the symbol resolver hook,
 *   then it is read like `kva`.
 */
import { badArgument } from "./errors.js";

export type AccessContext =
  | { readonly kind: "pa"; readonly addr: bigint }
  | { readonly kind: "kva"; readonly addr: bigint }
  | { readonly kind: "dtb"; readonly dtb: bigint; readonly addr: bigint }
  | { readonly kind: "pid"; readonly pid: number; readonly addr: bigint }
  | { readonly kind: "ksym"; readonly symbol: string; readonly offset?: bigint };

export const pa = (addr: bigint): AccessContext => ({ kind: "pa", addr });
export const kva = (addr: bigint): AccessContext => ({ kind: "kva", addr });
export const dtbVa = (dtb: bigint, addr: bigint): AccessContext => ({ kind: "dtb", dtb, addr });
export const pidVa = (pid: number, addr: bigint): AccessContext => ({ kind: "pid", pid, addr });
export const ksym = (symbol: string, offset?: bigint): AccessContext =>
  offset === undefined ? { kind: "ksym", symbol } : { kind: "ksym", symbol, offset };

/** The same context moved by `delta` bytes (virtual addresses wrap at 2^64). */
export function ctxAdd(ctx: AccessContext, delta: bigint | number): AccessContext {
  const d = BigInt(delta);
  switch (ctx.kind) {
    case "pa":
      return { kind: "pa", addr: ctx.addr + d };
    case "kva":
      return { kind: "kva", addr: BigInt.asUintN(64, ctx.addr + d) };
    case "dtb":
      return { kind: "dtb", dtb: ctx.dtb, addr: BigInt.asUintN(64, ctx.addr + d) };
    case "pid":
      return { kind: "pid", pid: ctx.pid, addr: BigInt.asUintN(64, ctx.addr + d) };
    case "ksym":
      return { kind: "ksym", symbol: ctx.symbol, offset: (ctx.offset ?? 0n) + d };
  }
}

/** Human form for errors and logs: "kva:0xffffffff81000000", "ksym:init_task+0x10". */
export function formatCtx(ctx: AccessContext): string {
  const h = (v: bigint): string => (v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16));
  switch (ctx.kind) {
    case "pa":
    case "kva":
      return `${ctx.kind}:${h(ctx.addr)}`;
    case "dtb":
      return `dtb(${h(ctx.dtb)}):${h(ctx.addr)}`;
    case "pid":
      return `pid(${ctx.pid}):${h(ctx.addr)}`;
    case "ksym":
      return ctx.offset ? `ksym:${ctx.symbol}+${h(ctx.offset)}` : `ksym:${ctx.symbol}`;
  }
}

export function checkCtx(ctx: AccessContext): void {
  if (ctx.kind === "pid" && (!Number.isSafeInteger(ctx.pid) || ctx.pid < 0)) throw badArgument("pid", `bad pid ${ctx.pid}`);
  if (ctx.kind === "ksym" && ctx.symbol.length === 0) throw badArgument("symbol", "empty symbol name");
}
