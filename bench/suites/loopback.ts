/**
 * The practical limits of this machine, measured against a second Node process:
 *   tls-loopback: raw TLS 1.3 throughput (the ceiling for a dump through the secure path);
 *   tcp-echo:     64-byte round trips over TCP (the floor for a trap round trip), and over
 *                 TLS 1.3 for information (what the encryption adds to a round trip).
 */
import { echoRoundTrips, startLoopbackPeer, tlsStreamClient, type LoopbackPeer } from "../peers/loopback.js";
import { MiB, mbPerSec, metric, medianRatio } from "../harness/measure.js";
import type { BenchContext, Benchmark } from "../harness/types.js";

export function loopbackPeer(ctx: BenchContext): Promise<LoopbackPeer> {
  return ctx.shared("loopback-peer", startLoopbackPeer, (p) => p.close());
}

export const tlsLoopback: Benchmark = {
  name: "tls-loopback",
  title: "Raw TLS 1.3 throughput between two Node processes on loopback",
  async run(ctx) {
    const peer = await loopbackPeer(ctx);
    const bytes = (ctx.quick ? 32 : 256) * MiB;
    const n = ctx.quick ? 3 : 9;
    const c = await tlsStreamClient(peer);
    await c.receive(bytes); // warm-up (TLS buffers, JIT)
    const rates: number[] = [];
    for (let i = 0; i < n; i++) {
      ctx.progress.step(`sample ${i + 1}/${n} (${bytes / MiB} MiB)`);
      rates.push(mbPerSec(bytes, await c.receive(bytes)));
    }
    c.close();
    return {
      metrics: [metric("tls-loopback.throughput", `raw TLS 1.3 stream, peer → bench process`, "MB/s", "higher", rates)],
      ratios: [],
      params: { bytesPerSample: bytes, cipher: c.cipher, writeChunk: "1 MiB", peerPid: peer.pid },
      notes: ["One connection (handshake excluded); the peer writes 1 MiB buffers with backpressure, the receiver only counts bytes."],
    };
  },
};

export const tcpEcho: Benchmark = {
  name: "tcp-echo",
  title: "Loopback round trip of a 64-byte message (TCP, and TLS 1.3 for comparison)",
  async run(ctx) {
    const peer = await loopbackPeer(ctx);
    const n = ctx.quick ? 300 : 5000;
    const warmup = ctx.quick ? 50 : 500;
    const tcp = await echoRoundTrips(peer.ports.tcpEcho, false, n, warmup, 64, (i) => ctx.progress.step(`TCP ${i}/${n}`));
    const tls = await echoRoundTrips(peer.ports.tlsEcho, true, n, warmup, 64, (i) => ctx.progress.step(`TLS ${i}/${n}`));
    const mTcp = metric("tcp-echo.rtt", "TCP echo round trip (64 B, TCP_NODELAY)", "µs", "lower", tcp);
    const mTls = metric("tcp-echo.tls-rtt", "TLS 1.3 echo round trip (64 B)", "µs", "lower", tls);
    return {
      metrics: [mTcp, mTls],
      ratios: [medianRatio("tcp-echo.tls-over-tcp", "TLS / TCP echo round trip (median)", mTls, mTcp)],
      params: { messages: n, warmup, messageBytes: 64 },
      notes: ["One connection each, one message in flight; the peer echoes what it reads."],
    };
  },
};
