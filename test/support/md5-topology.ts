/**
 * End-to-end helpers for TCP-MD5: the agent with --enable-md5-support inside a namespace, a
 * stand-in gateway with a short TTL, the kernel's TCP-MD5 counters and the keys on listening
 * sockets as seen from inside a namespace, and bursts of signed connections (a C program
 * compiled at test time). Processes and namespaces come from bgproxy-process.ts, netns.ts and
 * relay-topology.ts.
 *
 * Keys stay out of the test output: `ss` prints them in clear, so only the peer addresses of
 * its `md5keys:` field are returned.
 */
import { join, resolve } from "node:path";
import { type TcpMd5Counters, tcpMd5Counters } from "../../src/agent/md5/tcp-md5-counters.ts";
import { BgproxyProcess, E2E_EMAIL, E2E_TOKEN, NO_PROXY_ENV } from "./bgproxy-process.ts";
import { buildFixture } from "./c-program.ts";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const MAIN = join(ROOT, "src", "main.ts");

export interface Md5AgentOptions {
  netns: Netns;
  /** The gateway's host:port. */
  target: string;
  /** Router-facing listeners; default the agent's own default (0.0.0.0:179 and [::]:179). */
  listen?: readonly string[];
  /** --md5-listen-interface, default any. */
  interface?: string;
  label?: string;
  startTimeoutMs?: number;
  /** Extra environment (e.g. BGPROXY_MD5_CAPTURE_BUFFER_BYTES). */
  env?: Record<string, string>;
}

/** The argv of `bgproxy agent --enable-md5-support ...` (plain gRPC, no export, debug logs). */
export function md5AgentArgv(options: Omit<Md5AgentOptions, "netns">): string[] {
  return [
    process.execPath,
    MAIN,
    "agent",
    ...(options.listen ? ["--listen", options.listen.join(",")] : []),
    "--target",
    options.target,
    "--insecure",
    "--email",
    E2E_EMAIL,
    "--disable-log-export",
    "--metrics-port",
    "0",
    "--log-level",
    "debug",
    "--enable-md5-support",
    ...(options.interface ? ["--md5-listen-interface", options.interface] : []),
  ];
}

export const AGENT_ENV = { ...NO_PROXY_ENV, KENTIK_API_TOKEN: E2E_TOKEN };

/** Start the agent with TCP-MD5 support and wait until its control stream is up. */
export async function startMd5Agent(options: Md5AgentOptions): Promise<BgproxyProcess> {
  const proc = spawnManaged(md5AgentArgv(options), {
    netns: options.netns.name,
    label: options.label ?? "agent",
    cwd: ROOT,
    env: { ...AGENT_ENV, ...options.env },
  });
  const agent = new BgproxyProcess(proc);
  try {
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    await agent.waitForRecord("TCP-MD5 support enabled", timeoutMs);
    await agent.waitForRecord("control stream connected", timeoutMs);
    return agent;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * The stand-in gateway (test/support/md5-fake-gateway.ts) answering with `ttlSeconds` and
 * `key`: one key for every device, or a map from device address to key.
 */
export class FakeGateway extends BgproxyProcess {
  constructor(
    proc: ManagedProcess,
    readonly port: number,
  ) {
    super(proc);
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Device addresses of the ControlRequests received so far, in order. */
  requests(): string[] {
    return this.find("control request").map((r) => String(r.device_ip));
  }
}

export async function startFakeGateway(
  netns: Netns,
  ttlSeconds: number,
  key: string | Record<string, string>,
): Promise<FakeGateway> {
  const env =
    typeof key === "string"
      ? { MD5_FAKE_GATEWAY_KEY: key }
      : { MD5_FAKE_GATEWAY_KEYS: JSON.stringify(key) };
  const proc = spawnManaged(
    [process.execPath, join(ROOT, "test", "support", "md5-fake-gateway.ts"), String(ttlSeconds)],
    { netns: netns.name, label: "fake-gateway", cwd: ROOT, env },
  );
  try {
    const m = await proc.waitForLine(/"msg":"fake gateway listening","port":(\d+)/, 15_000);
    return new FakeGateway(proc, Number(m[1]));
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** TCPMD5NotFound / Unexpected / Failure of a namespace, read as the agent reads them. */
export async function netnsMd5Counters(ns: Netns): Promise<TcpMd5Counters> {
  const r = await ns.exec(["cat", "/proc/net/netstat"]);
  return tcpMd5Counters(r.stdout);
}

/**
 * Peer addresses with a TCP-MD5 key on the namespace's sockets (from `ss -tniH`'s md5keys
 * field; needs root), for listening sockets or established ones on local port `port`.
 */
export async function md5KeyPeers(
  ns: Netns,
  state: "listening" | "established",
  port: number,
): Promise<string[]> {
  const r = await ns.exec(["ss", "-tniH", "state", state, "sport", "=", `:${port}`]);
  return md5KeyPeersOf(r.stdout);
}

/** The peer addresses in the `md5keys:addr/len=key,...` fields of `ss -i` output, sorted. */
export function md5KeyPeersOf(ssOutput: string): string[] {
  const peers: string[] = [];
  for (const m of ssOutput.matchAll(/md5keys:(\S+)/g)) {
    for (const entry of (m[1] ?? "").split(",")) {
      const addr = entry.match(/^([0-9a-fA-F.:]+)\/\d+=/);
      if (addr?.[1]) peers.push(addr[1]);
    }
  }
  return peers.sort();
}

export interface SignedConnect {
  source: string;
  destination: string;
  key: string;
}

export interface ConnectResult {
  connected: number;
  failed: string[];
  /** Time to connect of each completed connection, ms. */
  ms: number[];
}

/**
 * Open all `connections` at once from namespace `ns` (md5-connect.c), keep them open `holdMs`
 * after the last one completed, and report.
 */
export async function signedConnects(
  ns: Netns,
  port: number,
  connections: readonly SignedConnect[],
  options: { timeoutMs: number; holdMs: number },
): Promise<ConnectResult> {
  const bin = buildFixture("md5-connect");
  const args = connections.map((c) => `${c.source}=${c.destination}=${c.key}`);
  const { timeoutMs, holdMs } = options;
  const r = await run([bin, String(port), String(timeoutMs), String(holdMs), ...args], {
    netns: ns.name,
    timeoutMs: timeoutMs + holdMs + 5_000,
    check: false,
  });
  if (r.code !== 0 && r.code !== 1) throw new Error(`md5-connect: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ConnectResult;
}

/** Add many addresses to an interface with one `ip -batch` (CIDRs; IPv6 ones get nodad). */
export async function addAddresses(
  ns: Netns,
  ifname: string,
  cidrs: readonly string[],
): Promise<void> {
  const lines = cidrs.map((c) =>
    c.includes(":") ? `addr add ${c} dev ${ifname} nodad` : `addr add ${c} dev ${ifname}`,
  );
  await run(["ip", "-n", ns.name, "-batch", "-"], {
    stdin: `${lines.join("\n")}\n`,
    timeoutMs: 20_000,
  });
}
