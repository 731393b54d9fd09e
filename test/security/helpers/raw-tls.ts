/**
 * A bare TLS 1.3 client for the refusal tests: connects with or without ALPN and a client
 * certificate, sends given bytes once the handshake is done and reports everything that
 * came back and how the connection ended.
 */
import { connect } from "node:tls";

export interface RawOutcome {
  /** The handshake completed. */
  readonly handshake: boolean;
  /** Application bytes received from the peer. */
  readonly received: number;
  /** The TLS error, if the connection ended with one. */
  readonly error: string | undefined;
}

export function rawTls(port: number, o: { alpn?: string[]; keyPem?: string; certPem?: string; send?: Uint8Array }): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let handshake = false;
    let received = 0;
    let error: string | undefined;
    const s = connect({
      host: "127.0.0.1",
      port,
      minVersion: "TLSv1.3",
      rejectUnauthorized: false,
      ...(o.alpn !== undefined ? { ALPNProtocols: o.alpn } : {}),
      ...(o.keyPem !== undefined && o.certPem !== undefined ? { key: o.keyPem, cert: o.certPem } : {}),
    });
    const timer = setTimeout(() => s.destroy(new Error("no close within 20 s")), 20_000);
    s.on("secureConnect", () => {
      handshake = true;
      if (o.send !== undefined) s.write(o.send);
    });
    s.on("data", (d: Buffer) => (received += d.length));
    s.on("error", (e) => (error = e.message));
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ handshake, received, error });
    });
  });
}

/** A v0 request as the prototype's client frames it (varint length, then the AccessRequest). */
export function v0Frame(body: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  for (let n = body.length; ; n >>>= 7) {
    if (n < 0x80) {
      prefix.push(n);
      break;
    }
    prefix.push((n & 0x7f) | 0x80);
  }
  return Uint8Array.from([...prefix, ...body]);
}
