/**
 * A TCP hop in front of the host's NIC listener that records every byte in both
 * directions: exactly the bytes the host relays between the owner and the agent (the
 * host's own relay moves the same TCP stream into and out of the NIC rings).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface RecordedConnection {
  readonly toAgent: Buffer[];
  readonly toOwner: Buffer[];
}

export interface RecordingRelay {
  readonly endpoint: string;
  readonly connections: readonly RecordedConnection[];
  /** All bytes of one direction of one connection, concatenated. */
  bytes(c: RecordedConnection, dir: "toAgent" | "toOwner"): Buffer;
  readonly totalBytes: number;
  close(): Promise<void>;
}

export async function startRecordingRelay(target: { host: string; port: number }): Promise<RecordingRelay> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  let total = 0;
  const server: Server = createServer((client) => {
    const rec: RecordedConnection = { toAgent: [], toOwner: [] };
    connections.push(rec);
    const upstream = connect({ host: target.host, port: target.port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.on("data", (d: Buffer) => {
      rec.toAgent.push(Buffer.from(d));
      total += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      rec.toOwner.push(Buffer.from(d));
      total += d.length;
      client.write(d);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    bytes: (c, dir) => Buffer.concat(c[dir]),
    get totalBytes() {
      return total;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
