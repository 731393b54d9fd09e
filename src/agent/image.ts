/**
 * The agent image: the bytes the host loads as measured NORMAL pages at the start of the
 * agent region (seven-launch.ts), and so the bytes the launch measurement identifies.
 * Deterministic: it depends only on this build (AGENT_VERSION and the wire schemas the
 * agent speaks), never on the machine it is launched into.
 *
 *   0x000 entry stub (AGENT_ENTRY_OFFSET = 0): F3 0F 01 D9  VMGEXIT   (rep vmmcall)
 *                                             EB FA        jmp 0x000
 *   0x010 MAGIC "00SEVen-agent\0\0\0" (16 bytes)
 *   0x020 u32 FORMAT = 1   0x024 u32 IMAGE_BYTES   0x028 u32 ENTRY = 0   0x02C u32 reserved
 *   0x030 AGENT_VERSION (ASCII, NUL padded to 48 bytes)
 *   0x060 SHA-256 of the v1 and v0 schema descriptors (the protocols this build serves)
 *   0x080 .. end of page: zero
 * The model runs the agent as a VcpuProgram (agent.ts); the stub is what a real image
 * would execute first, and the agent checks the magic at its entry RIP when it boots.
 */
import { createHash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { PAGE_SIZE } from "../shared/base/index.js";
import { AGENT_ENTRY_OFFSET, AGENT_IMAGE_PAGES } from "../shared/spec/index.js";
import { v0, v1 } from "../shared/protocol/index.js";

export const AGENT_VERSION = "00SEVen-agent/0.1.0";
export const AGENT_IMAGE_MAGIC = "00SEVen-agent\0\0\0";
export const AGENT_IMAGE_FORMAT = 1;
export const AGENT_IMAGE_BYTES = PAGE_SIZE;
export const ENTRY_STUB = Uint8Array.of(0xf3, 0x0f, 0x01, 0xd9, 0xeb, 0xfa);
export const IMAGE_OFF = { magic: 0x10, format: 0x20, size: 0x24, entry: 0x28, version: 0x30, schemas: 0x60 } as const;

/** SHA-256 over the serialized v1 and v0 file descriptors. */
export function protocolDigest(): Uint8Array {
  const h = createHash("sha256");
  for (const f of [v1.file_seven_v1_seven, v0.file_legacy_msg_proto]) h.update(toBinary(FileDescriptorProtoSchema, f.proto));
  return new Uint8Array(h.digest());
}

export function buildAgentImage(): Uint8Array {
  if (AGENT_IMAGE_BYTES > AGENT_IMAGE_PAGES * PAGE_SIZE) throw new RangeError("agent image exceeds its pages");
  const img = new Uint8Array(AGENT_IMAGE_BYTES);
  const dv = new DataView(img.buffer);
  img.set(ENTRY_STUB, Number(AGENT_ENTRY_OFFSET));
  img.set(new TextEncoder().encode(AGENT_IMAGE_MAGIC), IMAGE_OFF.magic);
  dv.setUint32(IMAGE_OFF.format, AGENT_IMAGE_FORMAT, true);
  dv.setUint32(IMAGE_OFF.size, AGENT_IMAGE_BYTES, true);
  dv.setUint32(IMAGE_OFF.entry, Number(AGENT_ENTRY_OFFSET), true);
  const ver = new TextEncoder().encode(AGENT_VERSION);
  if (ver.length > 48) throw new RangeError("AGENT_VERSION too long");
  img.set(ver, IMAGE_OFF.version);
  img.set(protocolDigest(), IMAGE_OFF.schemas);
  return img;
}

/** Whether `bytes` (at least the header) start like this build's image. */
export function isAgentImageHeader(bytes: Uint8Array): boolean {
  const want = buildAgentImage().subarray(0, 0x80);
  if (bytes.length < want.length) return false;
  for (let i = 0; i < want.length; i++) if (bytes[i] !== want[i]) return false;
  return true;
}
