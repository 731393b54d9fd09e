/**
 * The loopback baselines, measured against a second Node process (loopback-peer.ts):
 * raw TLS 1.3 throughput (what a dump could reach at best on this machine) and small
 * message round trips over TCP and over TLS (what a trap round trip could reach at best).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect as netConnect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";

export interface LoopbackPeer {
  readonly pid: number;
  readonly ports: { readonly tlsStream: number; readonly tcpEcho: number; readonly tlsEcho: number };
  close(): Promise<void>;
}

const PEER = fileURLToPath(new URL("./loopback-peer.ts", import.meta.url));

/** Starts the peer process (node --import tsx loopback-peer.ts) and waits for its ports. */
export function startLoopbackPeer(): Promise<LoopbackPeer> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", PEER], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      child.kill();
      reject(new Error(`loopback peer: ${why}`));
    };
    const timer = setTimeout(() => fail("not ready within 60 s"), 60_000);
    child.once("exit", (code) => fail(`exited with ${code}`));
    child.once("error", (e) => fail(e.message));
    child.on("message", (m: unknown) => {
      const ports = (m as { ready?: LoopbackPeer["ports"] }).ready;
      if (ports === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({
        pid: child.pid!,
        ports,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.disconnect();
          }),
      });
    });
  });
}

function connected(s: Socket, event: "connect" | "secureConnect"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    s.once(event, () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

function openTls(port: number): Promise<Socket> {
  const s = tlsConnect({ host: "127.0.0.1", port, minVersion: "TLSv1.3", maxVersion: "TLSv1.3", rejectUnauthorized: false });
  s.setNoDelay(true);
  return connected(s, "secureConnect");
}

function openTcp(port: number): Promise<Socket> {
  const s = netConnect({ host: "127.0.0.1", port });
  s.setNoDelay(true);
  return connected(s, "connect");
}

/** One TLS connection to the streamer; `receive(n)` asks for n bytes and resolves with the ms until the last arrived. */
export async function tlsStreamClient(peer: LoopbackPeer): Promise<{ receive(bytes: number): Promise<number>; close(): void; cipher: string }> {
  const s = (await openTls(peer.ports.tlsStream)) as import("node:tls").TLSSocket;
  let want = 0;
  let got = 0;
  let done: (() => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  s.on("error", (e) => failed?.(e));
  s.on("data", (d: Buffer) => {
    got += d.length;
    if (got >= want && done) {
      const f = done;
      done = undefined;
      f();
    }
  });
  return {
    cipher: `${s.getProtocol() ?? "?"} ${s.getCipher().standardName}`,
    receive: (bytes) =>
      new Promise<number>((resolve, reject) => {
        want = bytes;
        got = 0;
        const req = Buffer.alloc(8);
        req.writeBigUInt64BE(BigInt(bytes));
        const t = performance.now();
        done = () => resolve(performance.now() - t);
        failed = reject;
        s.write(req);
      }),
    close: () => s.destroy(),
  };
}

/** Round trips of `size`-byte messages on one connection (TCP or TLS), in microseconds each. */
export async function echoRoundTrips(port: number, tls: boolean, n: number, warmup: number, size = 64, onStep?: (i: number) => void): Promise<number[]> {
  const s = tls ? await openTls(port) : await openTcp(port);
  const msg = Buffer.alloc(size, 0x5a);
  let got = 0;
  let done: (() => void) | undefined;
  s.on("data", (d: Buffer) => {
    got += d.length;
    if (got >= size && done) {
      const f = done;
      done = undefined;
      f();
    }
  });
  const once = (): Promise<number> =>
    new Promise((resolve) => {
      got = 0;
      const t = performance.now();
      done = () => resolve((performance.now() - t) * 1000);
      s.write(msg);
    });
  for (let i = 0; i < warmup; i++) await once();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await once());
    if (i % 100 === 0) onStep?.(i);
  }
  s.destroy();
  return out;
}
