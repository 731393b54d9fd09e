/** `seven profile from-btf`: a Volatility 3 ISF profile from a kernel's BTF and System.map. */
import type { Command } from "commander";
import { generateIsfFromFiles } from "../../../shared/kernel/index.js";
import { out, outJson } from "../owner/print.js";

export function register(program: Command): void {
  const profile = program.command("profile").description("kernel profiles (Volatility 3 ISF)");
  profile
    .command("from-btf")
    .description("build an ISF profile from a kernel's BTF and System.map")
    .requiredOption("--btf <file>", "the kernel's BTF (/sys/kernel/btf/vmlinux)")
    .requiredOption("--system-map <file>", "the kernel's System.map")
    .option("--types <list>", "only these types (comma- or space-separated) and what they reference")
    .requiredOption("--out <file>", "output: FILE.json or FILE.json.gz")
    .option("--json", "machine-readable output")
    .action(async (o: { btf: string; systemMap: string; types?: string; out: string; json?: boolean }) => {
      const t0 = performance.now();
      const r = await generateIsfFromFiles({ btfPath: o.btf, systemMapPath: o.systemMap, outPath: o.out, ...(o.types !== undefined ? { types: o.types } : {}) });
      const ms = performance.now() - t0;
      if (o.json) outJson({ ok: true, out: o.out, types: r.types, symbols: r.symbols, bytes: r.bytes, ms });
      else out(`wrote ${o.out}: ${r.types} types, ${r.symbols} symbols, ${r.bytes} bytes (${ms.toFixed(0)} ms)`);
    });
}
