/**
 * The 00SEVen VMPL0 NIC — our own device specification. The hypervisor binds this device
 * to VMPL0: its control page and two byte rings live in shared (hypervisor-owned) pages of
 * the agent region (seven-launch.ts). The host moves the bytes of each TCP connection it
 * accepted into the RX ring and the TX ring's bytes back out, framed per connection; it
 * never looks inside the payload (TLS records).
 *
 * Control page (4 KiB, shared):
 *   0x00 u32 MAGIC "7NIC"   0x04 u32 VERSION = 1   0x08 u32 RX_SIZE   0x0C u32 TX_SIZE
 *   0x10 u64 RX_PROD (host)  0x18 u64 RX_CONS (agent)
 *   0x20 u64 TX_PROD (agent) 0x28 u64 TX_CONS (host)
 *   0x30 u32 HOST_FLAGS (host → agent hints)   0x34 u32 AGENT_FLAGS (agent → host hints)
 * PROD/CONS are free-running byte counters; a ring's fill is PROD − CONS, data at offset
 * counter mod SIZE, wrapping. Each ring carries records: a 12-byte header
 * {u32 CONN, u16 KIND, u16 reserved = 0, u32 LENGTH} then LENGTH payload bytes (records
 * may wrap at the ring end). Everything here is written by an untrusted party for the
 * other side: readers check every counter and length against these limits.
 */
import { defineLayout, mbz, u16, u32, u64f } from "./layout.js";

export const NIC_MAGIC = 0x43494e37; // "7NIC" little-endian
export const NIC_VERSION = 1;

export const NIC_CONTROL = defineLayout({
  name: "NIC_CONTROL",
  size: 0x40,
  source: "00SEVen NIC spec (src/shared/spec/seven-nic.ts)",
  fields: [
    u32("magic", 0x00),
    u32("version", 0x04),
    u32("rx_size", 0x08),
    u32("tx_size", 0x0c),
    u64f("rx_prod", 0x10),
    u64f("rx_cons", 0x18),
    u64f("tx_prod", 0x20),
    u64f("tx_cons", 0x28),
    u32("host_flags", 0x30),
    u32("agent_flags", 0x34),
    mbz("reserved", 0x38, 8),
  ],
});

export const NIC_RECORD_HEADER = defineLayout({
  name: "NIC_RECORD_HEADER",
  size: 12,
  source: "00SEVen NIC spec (src/shared/spec/seven-nic.ts)",
  fields: [u32("conn", 0), u16("kind", 4), mbz("reserved", 6, 2), u32("length", 8)],
});

export const NIC_RECORD_KIND = {
  /** Host → agent: a new TCP connection `conn` was accepted (payload: peer address text). */
  OPEN: 1,
  /** Either way: bytes of connection `conn`. */
  DATA: 2,
  /** Either way: the connection is closed (no payload). */
  CLOSE: 3,
} as const;
export type NicRecordKind = (typeof NIC_RECORD_KIND)[keyof typeof NIC_RECORD_KIND];

/** Largest payload of one record. */
export const NIC_MAX_RECORD = 64 * 1024;
/** Most simultaneous connections the agent keeps. */
export const NIC_MAX_CONNS = 16;

/** HOST_FLAGS bits: why the host ran VMPL0 this time (hints, never trusted). */
export const NIC_HOST_FLAGS = { RX_PENDING: 1 << 0, TX_SPACE: 1 << 1 } as const;
/** AGENT_FLAGS bits: what the agent would like (hints to the scheduler). */
export const NIC_AGENT_FLAGS = { TX_PENDING: 1 << 0, WANT_RUN: 1 << 1 } as const;
