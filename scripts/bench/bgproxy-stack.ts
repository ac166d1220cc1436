/**
 * bgproxy as the benchmark runs it: `bgproxy gateway` (src/main.ts, TLS with a throwaway CA
 * from test/support/tls.ts) and the agent (agent-host.ts: `bgproxy agent`'s code with a
 * status channel), both in the proxy namespace, talking gRPC over its loopback — the agent
 * dials `localhost:<port>` and trusts the CA with `--ca-file`. Logs at info, as deployed.
 * With `profileDir` both run under `bun --cpu-prof` and write a profile when stopped.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  E2E_EMAIL,
  E2E_TOKEN,
  type GatewayDevice,
  type GatewayProcess,
  NO_PROXY_ENV,
  startGatewayProcess,
} from "../../test/support/bgproxy-process.ts";
import { restartableGateway } from "../../test/support/bridge-stack.ts";
import type { Netns } from "../../test/support/netns.ts";
import { makeTestPki, type TestPki } from "../../test/support/tls.ts";
import { RUNTIME_BUN_FLAGS } from "../packaging/runtime-flags.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

export const COLLECTOR_ASN = 64512;

export interface StackOptions {
  netns: Netns;
  dir: string;
  devices: readonly GatewayDevice[];
  /** Router-facing listeners of the agent, e.g. ["10.255.1.2:179"]. */
  agentListen: readonly string[];
  /** Collector hold time (session scale: 30 s, so keepalives flow every 10 s). */
  holdTime?: number;
  profileDir?: string;
  /** Bun flags for both processes; default the release binary's (RUNTIME_BUN_FLAGS). */
  bunFlags?: readonly string[];
  label?: string;
}

export interface BgproxyStack {
  /** The gateway running now (a new one after `startGatewayAgain`). */
  readonly gateway: GatewayProcess;
  agent: WorkerProcess;
  /** `kill -9` of the gateway; resolves once it is gone. */
  killGateway(): Promise<void>;
  /** A new gateway on the same gRPC port with the same file (a restart after a crash). */
  startGatewayAgain(): Promise<GatewayProcess>;
  stop(): Promise<void>;
}

let pki: TestPki | undefined;

export async function startBgproxyStack(options: StackOptions): Promise<BgproxyStack> {
  pki ??= await makeTestPki();
  const label = options.label ?? "";
  const runtime = options.bunFlags ?? RUNTIME_BUN_FLAGS;
  const prof = (name: string) => [
    ...runtime,
    ...(options.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
      : []),
  ];
  // Its own directory: the scenarios start several stacks side by side in `options.dir`.
  const gatewayDir = join(options.dir, `gateway${label}`);
  mkdirSync(gatewayDir, { recursive: true });
  const tls = { certFile: pki.serverCertPath, keyFile: pki.serverKeyPath };
  const startGateway = (name: string, listen?: string) =>
    startGatewayProcess({
      netns: options.netns,
      dir: gatewayDir,
      spec: {
        collector: { asn: COLLECTOR_ASN, routerId: "192.0.2.1", holdTime: options.holdTime },
        devices: options.devices,
      },
      listen,
      tls,
      bunFlags: prof(`${name}${label}`),
      logLevel: "info",
      maxLines: 2000,
      startTimeoutMs: 20_000,
    });
  const gateway = await startGateway("gateway");
  let agent: WorkerProcess;
  try {
    agent = await startWorker(
      {
        netns: options.netns.name,
        role: "agent",
        label: "agent",
        bunFlags: prof(`agent${label}`),
        env: { ...NO_PROXY_ENV, KENTIK_API_TOKEN: E2E_TOKEN },
        args: {
          argv: [
            "--listen",
            options.agentListen.join(","),
            "--target",
            `localhost:${gateway.port}`,
            "--ca-file",
            pki.caCertPath,
            "--email",
            E2E_EMAIL,
            "--disable-log-export",
            "--metrics-port",
            "0",
            "--log-level",
            "info",
          ],
        },
      },
      20_000,
    );
    await waitControlConnected(agent);
  } catch (err) {
    await gateway.stop();
    throw err;
  }
  // Restarts (gateway-2, gateway-3, ...) listen on the first one's port, where the agent dials.
  const gateways = restartableGateway(gateway, (name) =>
    startGateway(name, `127.0.0.1:${gateway.port}`),
  );
  return {
    get gateway() {
      return gateways.current;
    },
    agent,
    async killGateway() {
      await gateways.stop("kill");
    },
    startGatewayAgain: gateways.startAgain,
    async stop() {
      await agent.stop();
      await gateways.current.stop();
    },
  };
}

async function waitControlConnected(agent: WorkerProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = "";
  while (Date.now() < deadline) {
    const s = await agent.request("status");
    last = String(s.control);
    if (s.control === "ready") return;
    await Bun.sleep(100);
  }
  throw new Error(
    `agent: control stream not connected within 20 s (state ${last})\n${agent.tail()}`,
  );
}
