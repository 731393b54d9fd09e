/**
 * SEV firmware status codes (Linux uapi `psp-sev.h` `enum sev_ret_code`, which follows the
 * SNP ABI's status table). Returned by SNP_GUEST_REQUEST and carried in
 * `PlatformError("ASP_ERROR").details.status` for failed launch commands.
 *
 * Which status the real firmware returns for a guest message that fails authentication
 * or carries the wrong sequence number is not in the sources we have (SNP.md §9); the
 * model uses BAD_SIGNATURE for an AES-GCM authentication failure and INVALID_PARAM for a
 * malformed header or a sequence number other than the expected one.
 */
export const SEV_RET = {
  SUCCESS: 0x00,
  INVALID_PLATFORM_STATE: 0x01,
  INVALID_GUEST_STATE: 0x02,
  INVALID_CONFIG: 0x03,
  INVALID_LEN: 0x04,
  POLICY_FAILURE: 0x07,
  INVALID_ADDRESS: 0x09,
  BAD_SIGNATURE: 0x0a,
  BAD_MEASUREMENT: 0x0b,
  INVALID_GUEST: 0x10,
  UNSUPPORTED: 0x15,
  INVALID_PARAM: 0x16,
  INVALID_PAGE_SIZE: 0x19,
  INVALID_PAGE_STATE: 0x1a,
  AEAD_OFLOW: 0x1d,
  INVALID_KEY: 0x27,
} as const;

export type SevRet = (typeof SEV_RET)[keyof typeof SEV_RET];

/** MSG_REPORT_RSP.STATUS values (SNP.md §1.5). */
export const REPORT_STATUS = {
  SUCCESS: 0x00,
  INVALID_PARAM: 0x16,
  INVALID_KEY_SELECTION: 0x27,
} as const;
