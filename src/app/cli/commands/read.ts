/**
 * `seven read ADDR LEN [--pid N | --pa]`: bytes of guest memory as a hex dump. ADDR is a
 * kernel virtual address or SYMBOL[+OFFSET] (resolved through the profile and the
 * discovered KASLR slide), a virtual address in process N (--pid), or guest-physical (--pa).
 */
import type { Command } from "commander";
import { Vmi, pa, pidVa, kva, formatCtx, type AccessContext } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { parseAddress, parseCount, type AddressArg } from "../owner/address.js";
import { hexdump } from "../owner/hexdump.js";
import { withLinux, withTarget } from "../owner/linux-target.js";
import { out, outJson } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

const MAX_READ = 16 << 20;

type Flags = TargetFlags & { pid?: string; pa?: boolean; json?: boolean; pause?: boolean };

function print(bytes: Uint8Array, ctx: AccessContext, addr: bigint, o: Flags): void {
  if (o.json) outJson({ context: formatCtx(ctx), address: addr, length: bytes.length, hex: Buffer.from(bytes).toString("hex") });
  else out(hexdump(bytes, addr));
}

export function register(program: Command): void {
  const cmd = program
    .command("read <addr> <len>")
    .description("hex dump of guest memory: kernel VA or SYMBOL[+OFF] (default), --pid N for a process, --pa for physical")
    .option("--pid <n>", "ADDR is a virtual address in this process")
    .option("--pa", "ADDR is guest-physical")
    .option("--no-pause", "do not pause a live guest while resolving and reading")
    .option("--json", "machine-readable output");
  addTargetOptions(cmd, "any", { profile: true }).action(async (addrArg: string, lenArg: string, o: Flags) => {
    if (o.pa && o.pid !== undefined) throw new CliUsageError("read: give --pa or --pid N, not both");
    const addr: AddressArg = parseAddress(addrArg);
    const len = parseCount(lenArg, "LEN", 1, MAX_READ);
    const pid = o.pid !== undefined ? parseCount(o.pid, "--pid", 0, 0x7fffffff) : undefined;
    if (o.pa) {
      if (addr.kind !== "number") throw new CliUsageError("read --pa: ADDR must be a number, not a symbol");
      await withTarget(o, "any", "read", async (t) => {
        const vmi = await Vmi.open(t.driver);
        const ctx = pa(addr.value);
        print(await vmi.read(ctx, len), ctx, addr.value, o);
      });
      return;
    }
    if (pid !== undefined && addr.kind !== "number") throw new CliUsageError("read --pid: ADDR must be a number, not a kernel symbol");
    await withLinux(o, "any", "read", { pause: o.pause !== false }, async (s) => {
      const va = addr.kind === "number" ? addr.value : BigInt.asUintN(64, s.kernel.symbol(addr.symbol) + addr.offset);
      const ctx = pid !== undefined ? pidVa(pid, va) : kva(va);
      print(await s.vmi.read(ctx, len), ctx, va, o);
    });
  });
}
