/**
 * Proof that a built binary works: start it as `bgproxy standalone` on loopback (optionally
 * under qemu), answer `GET /hc` on the gateway's HTTP address, and relay one BGP session: a
 * TCP client plays the router, sends an OPEN to the agent's port and must get the
 * collector's OPEN (AS 64512) and KEEPALIVE back through agent → gRPC → gateway; the
 * gateway's /api/devices must then show the router's session established.
 *
 * The gateway's /hc is the proof asked for; `agentHealth` reads the agent's own /hc (its
 * status server, on --metrics-port) as well.
 */
import { connect, type Socket } from "node:net";
import { MessageType } from "../../../src/bgp/constants.ts";
import { type BgpFrame, BgpFramer } from "../../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../../src/bgp/keepalive.ts";
import { type BgpOpen, decodeOpen, encodeOpen } from "../../../src/bgp/open.ts";
import { type ManagedProcess, spawnManaged } from "../../support/process.ts";
import { waitUntil } from "../../support/wait.ts";

export interface RunningStandalone {
  readonly process: ManagedProcess;
  /** Router-facing agent port. */
  readonly routerPort: number;
  /** Gateway HTTP API port (/hc, /api/devices). */
  readonly httpPort: number;
  stop(): Promise<number>;
}

/** `prefix` runs the binary, e.g. ["qemu-aarch64-static", "-L", ..., binary]. */
export async function startStandalone(
  prefix: readonly string[],
  label: string,
  startTimeoutMs = 60_000,
): Promise<RunningStandalone> {
  const proc = spawnManaged(
    [
      ...prefix,
      "standalone",
      "--listen",
      "127.0.0.1:0",
      "--gateway-listen",
      "127.0.0.1:0",
      "--http-listen",
      "127.0.0.1:0",
      "--metrics-port",
      "0",
    ],
    {
      label,
      env: {
        HTTPS_PROXY: undefined,
        HTTP_PROXY: undefined,
        https_proxy: undefined,
        http_proxy: undefined,
      },
    },
  );
  try {
    const gateway = await proc.waitForLine(
      /"msg":"gateway started".*"http":"127\.0\.0\.1:(\d+)"/,
      startTimeoutMs,
    );
    const ready = await proc.waitForLine(
      /"msg":"standalone stack ready".*"router_peer_address":"127\.0\.0\.1:(\d+)"/,
      startTimeoutMs,
    );
    return {
      process: proc,
      routerPort: Number(ready[1]),
      httpPort: Number(gateway[1]),
      stop: () => proc.stop({ graceMs: 5000 }),
    };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export interface SessionResult {
  readonly peerOpen: BgpOpen;
  readonly gotKeepalive: boolean;
}

/**
 * Be a router: OPEN (AS 65001, 4-octet AS, IPv4 unicast) to `host`:`port`, read until the
 * peer's OPEN and a KEEPALIVE arrived, answer with a KEEPALIVE. Leaves the socket open (the
 * caller checks the gateway's view, then closes it).
 */
export async function openSession(
  port: number,
  timeoutMs: number,
  host = "127.0.0.1",
): Promise<SessionResult & { socket: Socket }> {
  const socket = connect({ host, port });
  const framer = new BgpFramer();
  const frames: BgpFrame[] = [];
  let failure: Error | undefined;
  socket.on("data", (chunk: Buffer) => {
    try {
      frames.push(...framer.push(new Uint8Array(chunk)));
    } catch (err) {
      failure = err as Error;
    }
  });
  socket.on("error", (err) => {
    failure = err;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    encodeOpen({
      asn: 65001,
      holdTime: 90,
      routerId: "10.0.0.1",
      capabilities: { multiprotocol: [{ afi: 1, safi: 1 }], fourOctetAs: true },
    }),
  );
  await waitUntil(
    () => {
      if (failure) throw failure;
      return frames.some((f) => f.type === MessageType.OPEN) &&
        frames.some((f) => f.type === MessageType.KEEPALIVE)
        ? true
        : undefined;
    },
    { timeoutMs, what: "the collector's OPEN and KEEPALIVE through the agent" },
  );
  socket.write(encodeKeepalive());
  const open = frames.find((f) => f.type === MessageType.OPEN);
  if (!open) throw new Error("no OPEN");
  return { peerOpen: decodeOpen(open.body), gotKeepalive: true, socket };
}

interface DeviceView {
  name: string;
  state: string;
  sessions: number;
}

/** Relay one session through a running standalone and check the gateway saw it established. */
export async function relayOneSession(
  s: RunningStandalone,
  timeoutMs: number,
): Promise<{
  peerOpen: BgpOpen;
  device: DeviceView;
}> {
  const session = await openSession(s.routerPort, timeoutMs);
  try {
    const device = await waitUntil(
      async () => {
        const devices = await getJson<DeviceView[]>(`http://127.0.0.1:${s.httpPort}/api/devices`);
        return devices.find((d) => d.name === "router-127.0.0.1" && d.state === "established");
      },
      { timeoutMs, what: "router-127.0.0.1 established in /api/devices" },
    );
    return { peerOpen: session.peerOpen, device };
  } finally {
    session.socket.destroy();
  }
}

/** The agent's status server address (logged at start), and its /hc once it says "ok". */
export async function agentHealth(
  s: RunningStandalone,
  timeoutMs: number,
): Promise<{ address: string; status: string }> {
  const line = await s.process.waitForLine(
    /"msg":"status and metrics endpoint listening".*"address":"([^"]+)"/,
    timeoutMs,
  );
  const address = line[1] ?? "";
  const body = await waitUntil(
    async () => {
      const res = await fetch(`http://${address}/hc`, { signal: AbortSignal.timeout(5000) });
      const json = (await res.json()) as { status: string };
      return res.status === 200 && json.status === "ok" ? json : undefined;
    },
    { timeoutMs, what: `the agent's /hc at ${address} to say ok` },
  );
  return { address, status: body.status };
}
