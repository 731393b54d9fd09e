// The wire: generated messages for protocol v1 (proto/seven/v1) and the prototype's v0
// (proto/legacy), plus framing and status codes.
export * as v1 from "./gen/seven/v1/seven_pb.js";
export * as v0 from "./gen/legacy/msg_proto_pb.js";
export * from "./framing.js";
export * from "./codec.js";
export * from "./attestation.js";
export * from "./reply-frames.js";
