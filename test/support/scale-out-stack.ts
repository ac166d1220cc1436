/**
 * The scale-out stack on a relay topology (relay-topology.ts with its central namespace C):
 * gateways gw-a and gw-b in C reading ONE configuration directory (a base file and a
 * devices file), HAProxy in C running the shipped image/haproxy/haproxy.cfg (TLS
 * terminated with a throwaway certificate for gateway.test, h2c to the gateways), and
 * one agent in P per given address, dialling HAProxy over TLS (port 9443). The sample's
 * passthrough frontend listens on port 9444 and forwards to the same (cleartext) gateways.
 * Used by the e2e test and by scripts/bench-scale-out.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type BgproxyProcess,
  type GatewayDevice,
  type GatewayFileSpec,
  type GatewayProcess,
  renderGatewayToml,
  startAgentProcess,
  startGatewayProcess,
} from "./bgproxy-process.ts";
import { Haproxy } from "./haproxy.ts";
import type { RelayTopology } from "./relay-topology.ts";
import { makeTestPki, type TestPki } from "./tls.ts";

export const HAPROXY_CFG = resolve(import.meta.dir, "..", "..", "image", "haproxy", "haproxy.cfg");
export const GATEWAY_NAMES = ["gw-a", "gw-b"] as const;

export interface ScaleOutOptions {
  topo: RelayTopology;
  collector: GatewayFileSpec["collector"];
  devices: readonly GatewayDevice[];
  /** One agent per address (in P), listening on port 179 there. */
  agentAddresses: readonly string[];
  /** HAProxy's maxconn (default 2000: the test machine's FD limit is low). */
  maxconn?: number;
  /** Bound on each gateway's start (a large device list takes longer). */
  startTimeoutMs?: number;
}

export class ScaleOutStack {
  readonly gateways = new Map<string, GatewayProcess>();
  readonly agents: BgproxyProcess[] = [];
  haproxy?: Haproxy;
  /** The environment HAProxy's configuration was run with (for `haproxy -c`). */
  env: Record<string, string> = {};

  private constructor(readonly pki: TestPki) {}

  static async start(options: ScaleOutOptions): Promise<ScaleOutStack> {
    const stack = new ScaleOutStack(await makeTestPki());
    try {
      await stack.launch(options);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  private async launch(options: ScaleOutOptions): Promise<void> {
    const { topo, collector } = options;
    const central = topo.collector;
    const pc = topo.pc;
    if (!central || !pc) throw new Error("scale-out: the topology has no central namespace");
    const base = renderGatewayToml({ collector, devices: [] });
    const confDir = join(topo.dir, "gateway.d");
    mkdirSync(confDir, { recursive: true });
    writeFileSync(join(confDir, "10-base.toml"), base);
    writeFileSync(
      join(confDir, "20-routers.toml"),
      renderGatewayToml({ collector, devices: options.devices }).slice(base.length),
    );
    for (const name of GATEWAY_NAMES) {
      this.gateways.set(
        name,
        await startGatewayProcess({
          netns: central,
          dir: topo.dir,
          spec: { collector, devices: [] },
          config: confDir,
          name,
          exportListen: "off",
          label: name,
          logLevel: "info",
          ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
        }),
      );
    }
    const pem = join(topo.dir, "haproxy.pem");
    writeFileSync(
      pem,
      Buffer.concat([readFileSync(this.pki.serverCertPath), readFileSync(this.pki.serverKeyPath)]),
    );
    const [a = "", b = ""] = GATEWAY_NAMES.map((n) => this.gateways.get(n)?.target ?? "");
    this.env = {
      BGPROXY_HAPROXY_CERT: pem,
      BGPROXY_GRPC_BIND: `${pc.b.ipv4}:9443`,
      BGPROXY_PASSTHROUGH_BIND: `${pc.b.ipv4}:9444`,
      BGPROXY_STATS_BIND: "127.0.0.1:8404",
      BGPROXY_GW_A: a,
      BGPROXY_GW_B: b,
      BGPROXY_GW_A_TLS: a,
      BGPROXY_GW_B_TLS: b,
      BGPROXY_HAPROXY_LOG: "stdout",
      BGPROXY_HAPROXY_MAXCONN: String(options.maxconn ?? 2000),
      BGPROXY_HAPROXY_SOCKET: join(topo.dir, "check.sock"),
    };
    this.haproxy = await Haproxy.start({
      netns: central,
      config: HAPROXY_CFG,
      env: this.env,
      dir: topo.dir,
    });
    for (const [i, address] of options.agentAddresses.entries()) {
      this.agents.push(
        await startAgentProcess({
          netns: topo.proxy,
          listen: [`${address}:179`],
          target: `${pc.b.ipv4}:9443`,
          tls: { caFile: this.pki.caCertPath, serverName: "gateway.test" },
          label: `agent-${i + 1}`,
          logLevel: "info",
        }),
      );
    }
  }

  /** Log tails of every process, for failure messages. */
  tails(lines = 15): string {
    return [
      this.haproxy?.tail(lines) ?? "",
      ...[...this.gateways].map(([n, g]) => `--- ${n}\n${g.tail(lines)}`),
      ...this.agents.map((a, i) => `--- agent ${i + 1}\n${a.tail(lines)}`),
    ].join("\n");
  }

  async stop(): Promise<void> {
    for (const a of this.agents) await a.stop();
    await this.haproxy?.stop();
    for (const g of this.gateways.values()) await g.stop();
    this.pki.remove();
  }
}
