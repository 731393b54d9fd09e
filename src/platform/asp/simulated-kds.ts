/**
 * The simulated AMD Key Distribution Service of one chip: an ARK (self-signed) and an ASK
 * (signed by the ARK), both RSA-4096 keys generated deterministically from the chip's key
 * seed, and a VCEK per TCB (an EC P-384 key derived from the seed and the TCB, certified by
 * the ASK with AMD's OID extensions). Profile: SNP.md §2.1/§2.2.
 *
 *   ARK  serial = product's, CN=ARK-<P>, 25 y, keyUsage! certSign+cRLSign, SKI, basicConstraints! CA, CRL DP
 *   ASK  serial = product's, CN=SEV-<P>, 25 y, SKI, AKI, basicConstraints! CA pathlen 0, keyUsage! certSign, CRL DP
 *   VCEK serial 0, CN=SEV-VCEK, 7 y, AMD extensions only (none critical)
 *
 * Validity starts at `issuedAt` (the injected clock at construction, whole seconds).
 * Certificates are built lazily and kept; RSA keys are cached per seed (rsa-keygen.ts).
 */
import { SNP_PRODUCT_SPECS, KDS_OID, VCEK_CN, kdsCrlUrl } from "../../shared/spec/index.js";
import type { EcPoint, SnpProduct } from "../../shared/spec/index.js";
import type { SeededRng } from "../../shared/base/index.js";
import {
  KEY_USAGE,
  addYears,
  amdName,
  authorityKeyIdExtension,
  basicConstraintsExtension,
  buildCertificate,
  crlDistributionPointExtension,
  ecP384Spki,
  extension,
  keyIdentifier,
  keyUsageExtension,
  subjectKeyIdExtension,
  toPem,
} from "./certificate-builder.js";
import type { CertificateSigner } from "./certificate-builder.js";
import { derIa5String, derUint } from "./der.js";
import { publicPoint, scalarFromBytes } from "./ecdsa-p384.js";
import { productInfo } from "./products.js";
import { deterministicRsaKey } from "./rsa-keygen.js";
import type { RsaKeyPair } from "./rsa-keygen.js";

export const CA_VALIDITY_YEARS = 25;
export const VCEK_VALIDITY_YEARS = 7;

interface CaCert {
  readonly key: RsaKeyPair;
  readonly der: Uint8Array;
  readonly signer: CertificateSigner;
  readonly keyId: Uint8Array;
}

export interface Vcek {
  readonly secret: Uint8Array;
  readonly point: EcPoint;
}

/**
 * The VCEK's AMD extensions, in the order KDS writes them (SNP.md §2.2; the order follows the
 * TCB bytes: Milan/Genoa bl, tee, spl4–7, snp, ucode; Turin fmc, bl, tee, snp, spl5–7, ucode).
 * Reserved SPLs carry the TCB's reserved bytes (zero for any TCB built with encodeTcbVersion).
 */
export function vcekExtensions(product: SnpProduct, tcb: bigint, chipId: Uint8Array): Uint8Array[] {
  const spec = SNP_PRODUCT_SPECS[product];
  const byte = (i: number) => Number((BigInt.asUintN(64, tcb) >> BigInt(8 * i)) & 0xffn);
  const int = (oid: string, v: number) => extension(oid, false, derUint(v));
  const O = KDS_OID;
  const spls =
    product === "turin"
      ? [O.FMC_SPL, O.BL_SPL, O.TEE_SPL, O.SNP_SPL, O.SPL_5, O.SPL_6, O.SPL_7, O.UCODE_SPL]
      : [O.BL_SPL, O.TEE_SPL, O.SPL_4, O.SPL_5, O.SPL_6, O.SPL_7, O.SNP_SPL, O.UCODE_SPL];
  if (chipId.length < spec.hwIdSize) throw new RangeError(`hwID needs ${spec.hwIdSize} bytes`);
  return [
    int(O.STRUCT_VERSION, spec.structVersion),
    extension(O.PRODUCT_NAME, false, derIa5String(spec.kdsName)),
    ...spls.map((oid, i) => int(oid, byte(i))),
    extension(O.HW_ID, false, chipId.slice(0, spec.hwIdSize)),
  ];
}

export class SimulatedKds {
  readonly product: SnpProduct;
  readonly issuedAt: Date;
  readonly #root: SeededRng;
  #ark: CaCert | undefined;
  #ask: CaCert | undefined;
  readonly #vceks = new Map<bigint, Vcek>();
  readonly #vcekCerts = new Map<string, Uint8Array>();

  /** `root`: the chip's key seed stream (only forks of it are used). */
  constructor(product: SnpProduct, root: SeededRng, issuedAtMs: number) {
    this.product = product;
    this.#root = root;
    this.issuedAt = new Date(Math.floor(issuedAtMs / 1000) * 1000);
  }

  get arkDer(): Uint8Array {
    return new Uint8Array(this.#arkCert().der);
  }

  get arkPem(): string {
    return toPem(this.#arkCert().der);
  }

  get askDer(): Uint8Array {
    return new Uint8Array(this.#askCert().der);
  }

  /** The VCEK key for a REPORTED_TCB: a P-384 scalar derived from the chip seed and the TCB. */
  vcek(tcb: bigint): Vcek {
    let v = this.#vceks.get(tcb);
    if (v === undefined) {
      const secret = scalarFromBytes(this.#root.fork(`vcek/${BigInt.asUintN(64, tcb).toString(16).padStart(16, "0")}`).bytes(64));
      v = { secret, point: publicPoint(secret) };
      this.#vceks.set(tcb, v);
    }
    return v;
  }

  /** DER VCEK certificate for `tcb` and the chip's 64-byte CHIP_ID (unmasked). */
  vcekDer(tcb: bigint, chipId: Uint8Array): Uint8Array {
    const k = `${tcb.toString(16)}/${Buffer.from(chipId).toString("hex")}`;
    let der = this.#vcekCerts.get(k);
    if (der === undefined) {
      der = buildCertificate({
        serial: 0,
        subject: amdName(VCEK_CN),
        notBefore: this.issuedAt,
        notAfter: addYears(this.issuedAt, VCEK_VALIDITY_YEARS),
        spki: ecP384Spki(this.vcek(tcb).point),
        extensions: vcekExtensions(this.product, tcb, chipId),
        issuer: this.#askCert().signer,
        explicitPssTrailer: false,
      });
      this.#vcekCerts.set(k, der);
    }
    return new Uint8Array(der);
  }

  #caKey(label: string): { key: RsaKeyPair; saltKey: Uint8Array } {
    return { key: deterministicRsaKey(this.#root.fork(label)).key, saltKey: this.#root.fork(`${label}/pss-salt`).bytes(32) };
  }

  #arkCert(): CaCert {
    if (this.#ark === undefined) {
      const spec = SNP_PRODUCT_SPECS[this.product];
      const { key, saltKey } = this.#caKey("ark");
      const name = amdName(spec.arkCn);
      const keyId = keyIdentifier(key.rsaPublicKey);
      const signer: CertificateSigner = { name, privateKey: key.privateKey, saltKey };
      const der = buildCertificate({
        serial: productInfo(this.product).arkSerial,
        subject: name,
        notBefore: this.issuedAt,
        notAfter: addYears(this.issuedAt, CA_VALIDITY_YEARS),
        spki: key.spki,
        extensions: [
          keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
          subjectKeyIdExtension(keyId),
          basicConstraintsExtension(),
          crlDistributionPointExtension(kdsCrlUrl(this.product)),
        ],
        issuer: signer,
        explicitPssTrailer: true,
      });
      this.#ark = { key, der, signer, keyId };
    }
    return this.#ark;
  }

  #askCert(): CaCert {
    if (this.#ask === undefined) {
      const ark = this.#arkCert();
      const spec = SNP_PRODUCT_SPECS[this.product];
      const { key, saltKey } = this.#caKey("ask");
      const name = amdName(spec.askCn);
      const keyId = keyIdentifier(key.rsaPublicKey);
      const der = buildCertificate({
        serial: productInfo(this.product).askSerial,
        subject: name,
        notBefore: this.issuedAt,
        notAfter: addYears(this.issuedAt, CA_VALIDITY_YEARS),
        spki: key.spki,
        extensions: [
          subjectKeyIdExtension(keyId),
          authorityKeyIdExtension(ark.keyId),
          basicConstraintsExtension(0),
          keyUsageExtension([KEY_USAGE.keyCertSign]),
          crlDistributionPointExtension(kdsCrlUrl(this.product)),
        ],
        issuer: ark.signer,
        explicitPssTrailer: true,
      });
      this.#ask = { key, der, signer: { name, privateKey: key.privateKey, saltKey }, keyId };
    }
    return this.#ask;
  }
}
