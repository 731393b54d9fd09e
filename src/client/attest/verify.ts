/**
 * Verify: is this report really signed by an AMD secure processor whose key chains to a
 * trusted AMD root, and does the signing certificate describe this report (TCB, chip)?
 * Nothing about what the report *says* is judged here — that is validate.ts.
 *
 * Every check is run and recorded (see checks.ts); `ok` is true only when none failed.
 */
import { systemClock, type Clock } from "../../shared/base/index.js";
import type { AttestationReport } from "../../shared/spec/index.js";
import { readAmdExtensions, type AmdExtensions } from "./amd-extensions.js";
import { commonName, publicKeyOf, type Certificate } from "./certificate.js";
import { leafKeyError, verifyChain, type KeyKind } from "./chain.js";
import { CheckList, type Check } from "./checks.js";
import { AttestError } from "./errors.js";
import { attempt, parseCertificates, parseOneCertificate, tryParseReport, type CertInput } from "./parse.js";
import { PRODUCT_DISPLAY, productFromName, type SnpProduct } from "./product.js";
import { checkHwId, checkSignature, checkSignerInfo, checkTcbExtensions } from "./report-binding.js";
import type { AnchorSource } from "./trust-store.js";

export interface VerifyInput {
  /** The raw 1184-byte ATTESTATION_REPORT. */
  readonly report: Uint8Array;
  /** Which kind of key signed it (the CLI's --vcek / --vlek). */
  readonly keyKind: KeyKind;
  /** The VCEK or VLEK certificate (DER or PEM). */
  readonly certificate: CertInput;
  /** ASK/ASVK (and optionally ARK) as DER or a PEM bundle; default: the built-in chain. */
  readonly chain?: CertInput | readonly CertInput[] | undefined;
  /** Default: from the certificate's productName. */
  readonly product?: SnpProduct | undefined;
  /** Extra roots to trust (e.g. the simulator's ARK). Never added to the built-ins. */
  readonly trustRoots?: readonly CertInput[] | undefined;
  /** Time for the validity periods (default: the system clock). */
  readonly clock?: Clock | undefined;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly checks: readonly Check[];
  /** The parsed report, if it parsed. Trust its contents only when `ok`. */
  readonly report: AttestationReport | undefined;
  readonly keyKind: KeyKind;
  readonly product: SnpProduct | undefined;
  readonly certificate: Certificate | undefined;
  readonly extensions: AmdExtensions | undefined;
  readonly intermediate: Certificate | undefined;
  readonly ark: Certificate | undefined;
  readonly arkSource: AnchorSource | undefined;
}

export function verifyAttestation(input: VerifyInput): VerifyResult {
  const parse = new CheckList("parse");
  const v = new CheckList("verify");
  const role = input.keyKind === "vcek" ? "VCEK" : "VLEK";
  const id = input.keyKind;

  const parsed = tryParseReport(input.report);
  if (parsed.ok) parse.pass("report.parse", "report parses (length, version, reserved bytes, field ranges)");
  else parse.fail("report.parse", "report parses (length, version, reserved bytes, field ranges)", parsed.error);
  const report = parsed.ok ? parsed.value : undefined;

  const leafParsed = attempt(() => parseOneCertificate(input.certificate));
  const leaf = leafParsed.ok ? leafParsed.value : undefined;
  if (!leafParsed.ok) {
    v.fail(`${id}.parse`, `${role} certificate parses`, new AttestError("CERT_MALFORMED", `${role}: ${leafParsed.error.message}`, { role, cause: leafParsed.error.code }));
  } else v.pass(`${id}.parse`, `${role} certificate parses`);

  const chainInputs = input.chain === undefined ? undefined : Array.isArray(input.chain) ? (input.chain as readonly CertInput[]) : [input.chain as CertInput];
  const chainParsed = chainInputs && attempt(() => chainInputs.flatMap((c) => parseCertificates(c)));
  if (chainParsed && !chainParsed.ok) {
    v.fail("chain.parse", "chain file parses", new AttestError("CERT_MALFORMED", `chain: ${chainParsed.error.message}`, { role: "chain" }));
  }
  const rootsParsed = attempt(() => (input.trustRoots ?? []).flatMap((c) => parseCertificates(c)));
  if (!rootsParsed.ok) {
    v.fail("trust-roots.parse", "trust roots parse", new AttestError("CERT_MALFORMED", `trust root: ${rootsParsed.error.message}`, { role: "ARK" }));
  }

  let extensions: AmdExtensions | undefined;
  let product: SnpProduct | undefined = input.product;
  let chainOutcome: ReturnType<typeof verifyChain> | undefined;
  if (leaf) {
    const ext = attempt(() => readAmdExtensions(leaf));
    if (ext.ok) {
      extensions = ext.value;
      v.pass(`${id}.extensions`, `${role} AMD extensions decode`);
    } else {
      v.fail(`${id}.extensions`, `${role} AMD extensions decode`, new AttestError("AMD_EXTENSION_INVALID", ext.error.message, { role, ...ext.error.details }));
    }
    product = checkProduct(v, id, role, input.product, extensions);
    checkRole(v, id, role, leaf);
    chainOutcome = verifyChain(v, {
      leaf,
      keyKind: input.keyKind,
      product,
      chain: chainParsed?.ok ? chainParsed.value : undefined,
      trustRoots: rootsParsed.ok ? rootsParsed.value : [],
      now: (input.clock ?? systemClock).now(),
    });
  }

  if (report) {
    checkSignerInfo(v, report, input.keyKind);
    if (extensions && product) {
      checkTcbExtensions(v, report, extensions, product, role);
      checkHwId(v, report, extensions, product, input.keyKind);
    } else {
      v.skip("report.tcb", "certificate SPLs = REPORTED_TCB", "no certificate extensions or product");
      v.skip("report.hwid", "VCEK hwID = CHIP_ID", "no certificate extensions or product");
    }
  }
  const key = leaf && leafKeyError(role, leaf) === undefined ? publicKeyOf(leaf) : undefined;
  checkSignature(v, input.report, key, role);

  const checks = [...parse.checks, ...v.checks];
  return {
    ok: checks.every((c) => c.status !== "fail"),
    checks,
    report,
    keyKind: input.keyKind,
    product,
    certificate: leaf,
    extensions,
    intermediate: chainOutcome?.intermediate,
    ark: chainOutcome?.ark,
    arkSource: chainOutcome?.arkSource,
  };
}

function checkProduct(
  list: CheckList,
  id: string,
  role: string,
  asked: SnpProduct | undefined,
  ext: AmdExtensions | undefined,
): SnpProduct | undefined {
  const title = `${role} productName names the product`;
  if (!ext) {
    list.skip(`${id}.product`, title, "no AMD extensions");
    return asked;
  }
  const fromCert = productFromName(ext.productName);
  if (asked !== undefined) {
    list.record(
      `${id}.product`,
      `${title} (${PRODUCT_DISPLAY[asked]})`,
      fromCert === asked
        ? undefined
        : new AttestError("PRODUCT_MISMATCH", `product ${PRODUCT_DISPLAY[asked]} was asked for but the ${role} says "${ext.productName}"`, {
            expected: asked,
            productName: ext.productName,
          }),
    );
    return asked;
  }
  list.record(
    `${id}.product`,
    `${title} (${ext.productName})`,
    fromCert !== undefined
      ? undefined
      : new AttestError("PRODUCT_UNKNOWN", `${role} productName "${ext.productName}" is not Milan, Genoa or Turin`, { productName: ext.productName }),
  );
  return fromCert;
}

function checkRole(list: CheckList, id: string, role: string, leaf: Certificate): void {
  const cn = commonName(leaf.subject);
  const want = role === "VCEK" ? "SEV-VCEK" : "SEV-VLEK";
  list.record(
    `${id}.role`,
    `certificate subject is ${want}`,
    cn === want ? undefined : new AttestError("CERT_ROLE_MISMATCH", `certificate subject CN is "${cn ?? "?"}", expected ${want}`, { role, subject: cn }),
  );
}
