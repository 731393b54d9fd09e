/** `seven report show` and `seven report verify`: the attestation verifier on any report file, real AMD ones included. */
import type { Command } from "commander";
import { EXIT, reportShow, reportVerify, type CommandResult } from "../../../client/index.js";
import { note, out, outJson } from "../owner/print.js";

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Prints a CommandResult: usage problems as one line on stderr, the rest on stdout; sets the exit code. */
function finish(r: CommandResult, json: boolean | undefined): void {
  if (r.exitCode === EXIT.USAGE) note(r.text.replace(/^error: /, "seven: "));
  else if (json) outJson(r.json);
  else out(r.text);
  process.exitCode = r.exitCode;
}

export function register(program: Command): void {
  const report = program.command("report").description("inspect and verify SEV-SNP attestation reports (including real AMD ones)");
  report
    .command("show <file>")
    .description("every field of an ATTESTATION_REPORT, decoded")
    .option("--product <name>", "TCB layout to decode with (milan, genoa, turin; default from the report)")
    .option("--json", "machine-readable output")
    .action(async (file: string, o: { product?: string; json?: boolean }) => {
      finish(await reportShow(file, { ...(o.product !== undefined ? { product: o.product } : {}), ...(o.json ? { json: true } : {}) }), o.json);
    });
  report
    .command("verify")
    .description("verify a report's signature and certificate chain, and validate it against a policy")
    .requiredOption("--report <file>", "the report (1184 bytes)")
    .option("--vcek <file>", "the VCEK certificate (DER or PEM)")
    .option("--vlek <file>", "the VLEK certificate (DER or PEM)")
    .option("--chain <file>", "ASK/ASVK (and ARK) certificates; default: the built-in AMD chain of the product")
    .option("--product <name>", "milan, genoa or turin (default: from the certificate)")
    .option("--trust-root <file>", "another root certificate to trust (repeatable; e.g. the simulator's ark.pem)", collect)
    .option("--vmpl <n>", "required VMPL (default 0)")
    .option("--allow-debug", "accept POLICY.DEBUG = 1")
    .option("--measurement <hex>", "expected MEASUREMENT (48 bytes)")
    .option("--report-data <hex>", "expected REPORT_DATA (64 bytes)")
    .option("--host-data <hex>", "expected HOST_DATA (32 bytes)")
    .option("--min-tcb <spec>", 'minimum TCB: "bl=3,tee=0,snp=8,ucode=115[,fmc=1]" or a raw TCB_VERSION "0x…"')
    .option("--at <iso-date>", "time for the certificate validity checks (default: now)")
    .option("--json", "machine-readable output")
    .action(
      async (o: {
        report: string;
        vcek?: string;
        vlek?: string;
        chain?: string;
        product?: string;
        trustRoot?: string[];
        vmpl?: string;
        allowDebug?: boolean;
        measurement?: string;
        reportData?: string;
        hostData?: string;
        minTcb?: string;
        at?: string;
        json?: boolean;
      }) => {
        const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as typeof o;
        finish(await reportVerify(defined), o.json);
      },
    );
}
