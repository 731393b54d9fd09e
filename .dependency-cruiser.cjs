/**
 * The import graph is the threat model (see ARCHITECTURE.md). These rules are run in CI
 * (`npm run depcheck`) and a test (src/app/dependency-rules.test.ts) proves they fail on a
 * forbidden import.
 */
const DOMAIN = "^src/(shared/[^/]+|platform|host|guest|agent|client|app)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "No import cycles anywhere.",
      from: {},
      to: { circular: true },
    },
    {
      name: "platform-only-base-and-spec",
      severity: "error",
      comment: "The platform (the hardware) knows only shared/base and shared/spec.",
      from: { path: "^src/platform/" },
      to: { path: "^src/", pathNot: ["^src/platform/", "^src/shared/(base|spec)/"] },
    },
    {
      name: "host-never-protocol-guest-agent-client",
      severity: "error",
      comment: "The host relays ciphertext: it never parses the protocol, and knows no guest, agent or client code.",
      from: { path: "^src/host/" },
      to: { path: "^src/(shared/protocol|shared/kernel|guest|agent|client|app)/" },
    },
    {
      name: "guest-never-host-agent-client",
      severity: "error",
      comment: "The guest (analysis target) knows no host, agent or client code, nor the wire protocol.",
      from: { path: "^src/guest/" },
      to: { path: "^src/(host|agent|client|app|shared/protocol)/" },
    },
    {
      name: "agent-never-host-guest-client-or-linux",
      severity: "error",
      comment: "The agent trusts only the platform; it has no Linux knowledge (shared/kernel).",
      from: { path: "^src/agent/" },
      to: { path: "^src/(host|guest|client|app|shared/kernel)/" },
    },
    {
      name: "client-never-simulator",
      severity: "error",
      comment: "The client learns everything through the wire and attestation.",
      from: { path: "^src/client/" },
      to: { path: "^src/(platform|host|guest|agent|app)/" },
    },
    {
      name: "shared-is-leaf",
      severity: "error",
      comment: "shared/* never imports a domain.",
      from: { path: "^src/shared/" },
      to: { path: "^src/(platform|host|guest|agent|client|app)/" },
    },
    {
      name: "shared-base-is-bottom",
      severity: "error",
      comment: "shared/base imports no other part of the project.",
      from: { path: "^src/shared/base/" },
      to: { path: "^src/", pathNot: "^src/shared/base/" },
    },
    {
      name: "no-deep-imports-across-domains",
      severity: "error",
      comment: "Each domain's index.ts is its only public surface.",
      from: { path: DOMAIN },
      to: { path: DOMAIN + "(?!index\\.ts$).+", pathNot: "^src/$1/" },
    },
    {
      name: "no-test-code-in-src",
      severity: "error",
      comment: "Production code never imports tests.",
      from: { path: "^src/", pathNot: "\\.test\\.ts$|/testing/" },
      to: { path: "(\\.test\\.ts$|^test/|/testing/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      extensions: [".ts", ".js"],
    },
  },
};
