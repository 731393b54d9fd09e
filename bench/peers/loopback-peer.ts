/**
 * The other Node process of the loopback baselines (started by loopback.ts, never by hand):
 *   - a TLS 1.3 server that streams N bytes on request (8-byte big-endian N in, N bytes out),
 *   - a TCP echo server and a TLS 1.3 echo server.
 * TLS uses Node's defaults for 1.3 (TLS_AES_256_GCM_SHA384 first) and an ECDSA P-384
 * certificate, as the agent does. The ports go to the parent over IPC; the process exits
 * when the parent disconnects.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { ownerIdentity } from "../../src/client/index.js";

const CHUNK = 1 << 20;
const block = randomBytes(CHUNK);

const id = ownerIdentity(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, "bench loopback peer");
const tlsOptions = {
  key: id.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
  cert: id.certificatePem,
  minVersion: "TLSv1.3" as const,
  maxVersion: "TLSv1.3" as const,
};

/** Serves "send me N bytes" requests one after another on one connection. */
function streamer(s: Socket): void {
  s.setNoDelay(true);
  let pending = Buffer.alloc(0);
  let busy = false;
  const next = async (): Promise<void> => {
    if (busy || pending.length < 8) return;
    busy = true;
    const n = Number(pending.readBigUInt64BE(0));
    pending = pending.subarray(8);
    let left = n;
    while (left > 0 && !s.destroyed) {
      const len = Math.min(left, CHUNK);
      left -= len;
      if (!s.write(len === CHUNK ? block : block.subarray(0, len))) await new Promise((r) => s.once("drain", r));
    }
    busy = false;
    void next();
  };
  s.on("data", (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    void next();
  });
  s.on("error", () => undefined);
}

function echo(s: Socket): void {
  s.setNoDelay(true);
  s.on("data", (d: Buffer) => s.write(d));
  s.on("error", () => undefined);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

const tlsStream = createTlsServer(tlsOptions, streamer);
const tcpEcho = createTcpServer(echo);
const tlsEcho = createTlsServer(tlsOptions, echo);
const ports = { tlsStream: await listen(tlsStream), tcpEcho: await listen(tcpEcho), tlsEcho: await listen(tlsEcho) };
process.send?.({ ready: ports });
process.on("disconnect", () => process.exit(0));
