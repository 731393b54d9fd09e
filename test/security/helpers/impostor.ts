/**
 * The host impersonating the agent: it owns the network, so instead of relaying the
 * owner's connection to the CVM it terminates TLS itself (any certificate will do — the
 * owner pins none) and answers the owner's AttestRequest with evidence of its choosing.
 * `evidence` is told this session's nonce and the REPORT_DATA the owner expects (the
 * impostor knows its own TLS exporter), so the only thing that can give it away is a
 * report it could not obtain: one of this VM, at VMPL0, for this session.
 */
import { generateKeyPairSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { create } from "@bufbuild/protobuf";
import { ALPN_V1, EXPORTER_LABEL, EXPORTER_LENGTH, FrameDecoder, attestationReportData, decodeMessage, encodeMessageFrame, v1 } from "../../../src/shared/protocol/index.js";
import { ownerIdentity } from "../../../src/client/index.js";

export interface Evidence {
  readonly report: Uint8Array;
  readonly vcek: Uint8Array;
  readonly chain: readonly Uint8Array[];
}

export type EvidenceSource = (nonce: Uint8Array, reportData: Uint8Array) => Evidence;

export interface Impostor {
  readonly endpoint: string;
  /** Attestations answered. */
  readonly served: number;
  /** Requests other than AttestRequest that reached it (the owner must send none before attesting). */
  readonly otherRequests: string[];
  close(): Promise<void>;
}

export async function startImpostor(evidence: EvidenceSource): Promise<Impostor> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const id = ownerIdentity(privateKey, "00SEVen VMPL0 agent");
  let served = 0;
  const otherRequests: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server: Server = createServer(
    {
      key: privateKey.export({ format: "pem", type: "pkcs8" }),
      cert: id.certificatePem,
      minVersion: "TLSv1.3",
      ALPNProtocols: [ALPN_V1],
      requestCert: true,
      rejectUnauthorized: false,
    },
    (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
      const exporter = new Uint8Array(s.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)));
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      s.on("data", (chunk: Buffer) => {
        decoder.push(new Uint8Array(chunk));
        for (const f of decoder.drain()) {
          const req = decodeMessage(v1.RequestSchema, f);
          if (req.op.case === "attest") {
            const nonce = req.op.value.nonce;
            const ev = evidence(nonce, attestationReportData(nonce, exporter));
            served++;
            s.write(encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { id: req.id, status: v1.Status.OK, body: { case: "attest", value: { report: ev.report, vcek: ev.vcek, chain: [...ev.chain] } } })));
          } else {
            otherRequests.push(req.op.case ?? "none");
            s.write(encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { id: req.id, status: v1.Status.UNIMPLEMENTED })));
          }
        }
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    get served() {
      return served;
    },
    otherRequests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
