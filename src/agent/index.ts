/**
 * The VMPL0 agent: boot, attested TLS server on the NIC, VMI service (v1 and the
 * prototype's v0). Its only public surface.
 */
export { createAgent, HOLD_POLL_NS, MAX_QUEUED_REPORTS } from "./runtime/agent.js";
export type { Agent, AgentIntrospection, AgentOptions } from "./runtime/agent.js";
export { buildAgentImage, AGENT_VERSION, AGENT_IMAGE_MAGIC, isAgentImageHeader } from "./image.js";
export {
  encodeAgentConfig,
  decodeAgentConfig,
  checkOwnerKey,
  ConfigError,
  DEFAULT_LIMITS,
  LIMIT_RANGES,
  CONFIG_MAGIC,
  CONFIG_VERSION,
} from "./config.js";
export type { AgentConfig, AgentLimits } from "./config.js";
export { initialVmsaPage, initialVmsaFields } from "./vmsa-init.js";
export type { MachineBackend, MachineFacts, RunControl, AccessControl } from "./backend.js";
export { createPlainBackend } from "./plain-backend.js";
export type { PlainBackendOptions } from "./plain-backend.js";
export { servePlainStream } from "./plain-serve.js";
export type { PlainServeOptions, PlainServer, PlainService } from "./plain-serve.js";
export { createPlainService } from "./plain-serve.js";
export { RequestError, AgentInvariantError, BootError, BackendAccessError } from "./errors.js";
export { CERT_BUFFER_PAGES } from "./runtime/boot.js";
export { AGENT_CERT_SUBJECT } from "./runtime/tls-identity.js";
