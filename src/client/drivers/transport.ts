/**
 * Opening the byte stream of a session: TLS 1.3 with ALPN "seven/1" and the owner's
 * client certificate for the agent; plain TCP for the non-confidential baseline.
 * Failures are SessionErrors: UNREACHABLE (no TCP connection) or TLS_FAILED.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { ALPN_V1, EXPORTER_LABEL, EXPORTER_LENGTH } from "../../shared/protocol/index.js";
import { SessionError } from "./errors.js";
import type { OwnerIdentity } from "./owner-certificate.js";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Parses "HOST:PORT" (IPv6 as "[::1]:PORT"). */
export function parseEndpoint(s: string): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SessionError("UNREACHABLE", `bad endpoint ${JSON.stringify(s)}: expected HOST:PORT`, { endpoint: s, usage: true });
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

function unreachable(e: Endpoint, err: NodeJS.ErrnoException | undefined, why?: string): SessionError {
  const reason = why ?? (err?.code ? `${err.code}` : (err?.message ?? "unknown error"));
  return new SessionError("UNREACHABLE", `cannot reach ${formatEndpoint(e)}: ${reason}`, { endpoint: formatEndpoint(e), errno: err?.code }, { cause: err });
}

/** A plain TCP connection (the baseline). */
export function openTcp(e: Endpoint, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: e.host, port: e.port });
    s.setNoDelay(true);
    const timer = setTimeout(() => {
      s.destroy();
      reject(unreachable(e, undefined, `no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(unreachable(e, err));
    });
  });
}

export interface TlsSession {
  readonly socket: TLSSocket;
  /** TLS-Exporter(EXPORTER_LABEL, no context, 32) of this session: the channel binding. */
  readonly exporter: Uint8Array;
}

/**
 * TLS 1.3 to the agent. The server certificate is not checked against any CA: the agent
 * is authenticated by its attestation report, which binds this session's exporter (see
 * attest-session.ts). The client presents the owner's certificate.
 */
export function openTls(e: Endpoint, owner: OwnerIdentity, timeoutMs: number): Promise<TlsSession> {
  return new Promise<TlsSession>((resolve, reject) => {
    let tcp = false;
    const s = tlsConnect({
      host: e.host,
      port: e.port,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ALPNProtocols: [ALPN_V1],
      key: owner.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
      cert: owner.certificatePem,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    s.setNoDelay(true);
    const timer = setTimeout(() => {
      s.destroy();
      reject(tcp ? new SessionError("TLS_FAILED", `no TLS handshake with ${formatEndpoint(e)} within ${timeoutMs / 1000} s`, { endpoint: formatEndpoint(e) }) : unreachable(e, undefined, `no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.once("connect", () => {
      tcp = true;
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        tcp
          ? new SessionError("TLS_FAILED", `TLS with ${formatEndpoint(e)} failed: ${err.code ?? err.message}`, { endpoint: formatEndpoint(e), errno: err.code }, { cause: err })
          : unreachable(e, err),
      );
    });
    s.once("secureConnect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      const fail = (why: string): void => {
        s.destroy();
        reject(new SessionError("TLS_FAILED", `${formatEndpoint(e)}: ${why}`, { endpoint: formatEndpoint(e) }));
      };
      if (s.getProtocol() !== "TLSv1.3") return fail(`negotiated ${s.getProtocol() ?? "no protocol"}, not TLS 1.3`);
      if (s.alpnProtocol !== ALPN_V1) return fail(`the peer does not speak ${ALPN_V1} (ALPN ${s.alpnProtocol === false ? "none" : JSON.stringify(s.alpnProtocol)})`);
      // An empty context equals an absent one in TLS 1.3 (RFC 8446 §7.5); the agent passes none.
      const exporter = new Uint8Array(s.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)));
      resolve({ socket: s, exporter });
    });
  });
}
