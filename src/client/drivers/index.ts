// Live drivers (src/client/drivers): the VMPL0 agent over attested TLS (protocol v1) and the
// non-confidential baseline over plain TCP. See README.md in this folder.
export { AgentV1Driver, connectAgent, connectBaseline } from "./agent-v1.js";
export type { AgentConnectOptions, BaselineConnectOptions, SessionOptions, SessionTimings } from "./agent-v1.js";
export { attestSession } from "./attest-session.js";
export type { AttestationExpectations, SessionAttestation } from "./attest-session.js";
export { planBatches, maxPieceBytes } from "./batching.js";
export type { AgentLimits, Piece } from "./batching.js";
export { V1Connection, MAX_INCOMING_FRAME } from "./connection.js";
export type { ConnectionOptions, ConnectionStats, RequestOp } from "./connection.js";
export { SessionError, isSessionError } from "./errors.js";
export type { SessionErrorCode } from "./errors.js";
export { accessBits } from "./events.js";
export type { AccessKind, AgentEvent, AgentEventHandler, EventAction, MappingChangedEvent, TrapEvent, TrapHandle, TrapHandler, TrapSpec } from "./events.js";
export { ownerIdentity, loadOwnerIdentity } from "./owner-certificate.js";
export type { OwnerIdentity } from "./owner-certificate.js";
export { fromWireRegisters, toWireRegisters, registerWrites } from "./register-codec.js";
export { statusError, statusName } from "./status.js";
export { parseEndpoint, formatEndpoint } from "./transport.js";
export type { Endpoint } from "./transport.js";
