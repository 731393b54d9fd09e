/**
 * Attestation verification (the owner's side): parse → verify → validate, kept apart
 * (go-sev-guest abi/verify/validate). See README.md in this folder.
 */
// parse
export { parseReport, tryParseReport, parseCertificates, parseOneCertificate, type CertInput, type ParseOutcome } from "./parse.js";
export { parseCertificate, decodeCertificates, toPem, commonName, type Certificate, type Extension, type NameAttribute } from "./certificate.js";
export { readAmdExtensions, AmdExtensionError, type AmdExtensions } from "./amd-extensions.js";
export { DerError } from "./der.js";
// verify
export { verifyAttestation, type VerifyInput, type VerifyResult } from "./verify.js";
export { verifyReportSignature } from "./report-signature.js";
export { checkAmdPssAlgorithm } from "./signature-algorithm.js";
export { builtinChain, type BuiltinChain, type AnchorSource } from "./trust-store.js";
export { AMD_BUILTIN_PEM } from "./roots/index.js";
export type { KeyKind, CertRole } from "./chain.js";
export { KNOWN_PRODUCTS, PRODUCT_DISPLAY, productFromName, parseProduct, type SnpProduct } from "./product.js";
// validate
export { validateReport, DEFAULT_REPORT_VERSIONS, type AttestationPolicy, type TcbMinimum, type FirmwareVersion } from "./validate.js";
// together
export { checkAttestation, verifyAndValidate, AttestationRejectedError, type AttestationResult, type VerifiedAttestation } from "./attest.js";
export { failed, failedCodes, checkToJson, type Check, type CheckStage, type CheckStatus } from "./checks.js";
export { AttestError, VERIFY_ERROR_CODES, VALIDATE_ERROR_CODES, type AttestErrorCode, type VerifyErrorCode, type ValidateErrorCode } from "./errors.js";
// launch measurement
export { computeLaunchMeasurement, MeasurementInputError, type LaunchPage, type MeasurementResult } from "./measurement.js";
// report display and CLI commands
export { reportView, reportText, formatTcbParts } from "./report-view.js";
export { reportShow, reportVerify, parseMinTcb, EXIT, type CommandResult, type ReportShowOptions, type ReportVerifyOptions } from "./cli/report-commands.js";
