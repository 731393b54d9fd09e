/**
 * A v1 client for the runtime tests: TLS 1.3 over a FakeHost connection (the host end of
 * an in-memory socket pair), replies decoded as they come, and `drive` to run host and
 * agent until a condition holds (node's TLS finishes writes on the event loop).
 */
import { connect } from "node:tls";
import type { TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { decodeMessage, encodeMessageFrame, FrameDecoder, v1 } from "../../shared/protocol/index.js";
import type { TlsIdentity } from "../runtime/tls-identity.js";
import type { FakeHost } from "./fake-host.js";

export type Op = NonNullable<MessageInitShape<typeof v1.RequestSchema>["op"]>;

/** Drives host and agent until `done` (or gives up), letting node's TLS complete its writes. */
export async function drive(host: FakeHost, done: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    host.settle();
    await new Promise((r) => setImmediate(r));
  }
}

export class TlsTestClient {
  readonly replies: v1.Response[] = [];
  readonly decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  secure = false;
  closed = false;
  #id = 1n;

  constructor(
    readonly s: TLSSocket,
    /** The raw connection under TLS (to break it below the TLS layer). */
    readonly raw: Duplex,
  ) {
    s.on("secureConnect", () => (this.secure = true));
    s.on("close", () => (this.closed = true));
    s.on("end", () => (this.closed = true));
    s.on("error", () => undefined);
    s.on("data", (d: Buffer) => {
      this.decoder.push(new Uint8Array(d));
      for (const f of this.decoder.drain()) this.replies.push(decodeMessage(v1.ResponseSchema, f));
    });
  }

  static open(host: FakeHost, id: TlsIdentity, alpn: string[] | null): TlsTestClient {
    const raw = host.open();
    const s = connect({ socket: raw, rejectUnauthorized: false, key: id.keyPem, cert: id.certPem, ...(alpn ? { ALPNProtocols: alpn } : {}) });
    return new TlsTestClient(s, raw);
  }

  send(op: Op): bigint {
    const id = this.#id++;
    this.s.write(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id, op })));
    return id;
  }

  async call(host: FakeHost, op: Op): Promise<v1.Response> {
    const id = this.send(op);
    await drive(host, () => this.replies.some((r) => r.id === id));
    const r = this.replies.find((x) => x.id === id);
    if (!r) throw new Error(`no reply to ${op.case}`);
    return r;
  }

  /** Pushed events received so far (removed). */
  takeEvents(): v1.Event[] {
    const out: v1.Event[] = [];
    for (let i = this.replies.length - 1; i >= 0; i--) {
      const r = this.replies[i]!;
      if (r.id === 0n && r.body.case === "event") {
        out.unshift(r.body.value as v1.Event);
        this.replies.splice(i, 1);
      }
    }
    return out;
  }
}
