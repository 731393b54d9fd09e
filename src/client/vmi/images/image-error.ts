/**
 * Decode errors of memory image files (untrusted input). Each names the file, the
 * format and what is wrong (`code`, plus `offset`/`field` where it helps); nothing else
 * ever escapes an image parser.
 */
import { DecodeError, type ErrorDetails } from "../../../shared/base/index.js";

export type ImageFormat = "raw" | "lime" | "elf-core" | "gzip";

export class ImageDecodeError extends DecodeError {
  readonly file: string;
  readonly format: ImageFormat;
  constructor(format: ImageFormat, file: string, code: string, what: string, details: ErrorDetails = {}) {
    super(code, `${file}: ${format}: ${what}`, { file, format, ...details });
    this.file = file;
    this.format = format;
  }
}

export class ElfCoreDecodeError extends ImageDecodeError {
  constructor(file: string, code: string, what: string, details: ErrorDetails = {}) {
    super("elf-core", file, code, what, details);
  }
}

export class LimeDecodeError extends ImageDecodeError {
  constructor(file: string, code: string, what: string, details: ErrorDetails = {}) {
    super("lime", file, code, what, details);
  }
}

export class GzipDecodeError extends ImageDecodeError {
  constructor(file: string, code: string, what: string, details: ErrorDetails = {}) {
    super("gzip", file, code, what, details);
  }
}
