/**
 * Throwaway PKI for TLS tests, made with the `openssl` CLI: a CA, a server certificate for
 * localhost / gateway.test / 127.0.0.1 / ::1, and a client certificate, all ECDSA P-256 and
 * valid for two days. Files live in a temp dir removed by `remove()` or at process exit.
 *
 * Bun's TLS client refuses an IP literal as ServerName: dial "localhost" or "gateway.test"
 * (or set grpc.ssl_target_name_override), not 127.0.0.1.
 */
import { afterAll, beforeAll } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";

export const SERVER_NAMES = ["localhost", "gateway.test"] as const;

export interface TestPki {
  dir: string;
  caCertPath: string;
  caKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  caCert: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** Delete the directory. */
  remove(): void;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run(["openssl", ...args], { cwd, timeoutMs: 20_000 });
}

async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<void> {
  await openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
}

/** Generate a fresh CA, server and client certificate (takes well under a second). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = makeTempDir("tls");
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-sha256",
      "-subj",
      "/CN=bgproxy test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const san = [...SERVER_NAMES.map((n) => `DNS:${n}`), "IP:127.0.0.1", "IP:::1"].join(",");
  await issue(
    dir,
    "server",
    "/CN=gateway.test",
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${san}`,
      "",
    ].join("\n"),
  );
  await issue(
    dir,
    "client",
    "/CN=bgproxy test agent",
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      "subjectAltName=DNS:agent.test",
      "",
    ].join("\n"),
  );
  const path = (f: string) => join(dir, f);
  return {
    dir,
    caCertPath: path("ca.crt"),
    caKeyPath: path("ca.key"),
    serverCertPath: path("server.crt"),
    serverKeyPath: path("server.key"),
    clientCertPath: path("client.crt"),
    clientKeyPath: path("client.key"),
    caCert: readFileSync(path("ca.crt")),
    serverCert: readFileSync(path("server.crt")),
    serverKey: readFileSync(path("server.key")),
    clientCert: readFileSync(path("client.crt")),
    clientKey: readFileSync(path("client.key")),
    remove: () => removeTempDir(dir),
  };
}

/** A PKI made once for a test file (beforeAll) and removed after it (afterAll). */
export function useTestPki(): () => TestPki {
  let pki: TestPki | undefined;
  beforeAll(async () => {
    pki = await makeTestPki();
  });
  afterAll(() => pki?.remove());
  return () => {
    if (!pki) throw new Error("the test PKI is made in beforeAll");
    return pki;
  };
}
