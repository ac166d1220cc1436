/**
 * A reload that adds a device, with real processes: a BIRD router in namespace R peers with
 * `bgproxy agent` in P, relayed to `bgproxy gateway` (built-in collector) in P. The gateway
 * starts knowing only the router's IPv4 address; gateway.toml then gains the router's IPv6
 * address as a second device, and SIGHUP makes the gateway read it: the router's new
 * session reaches Established with no gateway restart, and its existing session never
 * leaves Established. A broken file on the next SIGHUP is refused with one log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type GatewayFileSpec, renderGatewayToml } from "../support/bgproxy-process.ts";
import { Bird, type BirdConfig, SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import {
  type BridgeStack,
  collectorSpec,
  routerEstablished,
  startBridgeStack,
} from "../support/bridge-stack.ts";
import { agentNeighbor } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;

describe.skipIf(!canRunNetns)(`e2e reload: a device added by SIGHUP${skipNote}`, () => {
  let stack: BridgeStack;
  let router: Bird | undefined;
  let spec: GatewayFileSpec;
  let routerConfig: BirdConfig;
  const diagnostics = () =>
    stack.diagnostics(router ? `--- router BIRD\n${router.logTail(20)}` : "");

  const established = (protocol: string) => routerEstablished(router, diagnostics, protocol);

  const sighup = () => process.kill(stack.gateway.process.pid, "SIGHUP");

  beforeAll(async () => {
    stack = await startBridgeStack({
      collector: false,
      grpc: "127.0.0.1:19446",
      spec: collectorSpec(),
      listen: ({ rp }) => [`${rp.b.ipv4}:179`, `[${rp.b.ipv6}]:179`],
    });
    spec = stack.spec;
    const { rp } = stack.topo;
    routerConfig = {
      routerId: rp.a.ipv4,
      asn: ROUTER_AS,
      neighbors: [agentNeighbor(rp, 4, COLLECTOR_AS)],
      static4: ["10.255.220.0/24", "10.255.221.0/24"],
      static6: ["fd00:255:220::/48"],
    };
    router = await Bird.start(routerConfig, { netns: stack.topo.router, label: "router" });
  }, 60_000);

  afterAll(async () => {
    await router?.stop();
    await stack?.stop();
  }, 30_000);

  test("SIGHUP adds a device: its router reaches Established, the other session stays up", async () => {
    const { rp } = stack.topo;
    const before = await established("to_agent4");
    const pid = stack.gateway.process.pid;

    spec = {
      ...spec,
      devices: [
        ...spec.devices,
        { name: "edge-r1-v6", id: 1002, ip: rp.a.ipv6, target: "collector" },
      ],
    };
    writeFileSync(join(stack.topo.dir, "gateway.toml"), renderGatewayToml(spec));
    sighup();
    const reloaded = await stack.gateway.waitForRecord("reloaded", 10_000);
    expect(reloaded).toMatchObject({ added: "edge-r1-v6", removed: "", sessions_ended: 0 });

    // Only now does the router try its IPv6 session (an unknown device would be deny-listed).
    await router?.configure({
      ...routerConfig,
      neighbors: [...routerConfig.neighbors, agentNeighbor(rp, 6, COLLECTOR_AS)],
    });
    await established("to_agent6");
    const device = await waitUntil(
      async () => {
        const d = await stack.gateway.device("edge-r1-v6");
        return d?.state === "established" && d.prefixes.ipv4 === 2 && d.prefixes.ipv6 === 1
          ? d
          : undefined;
      },
      { timeoutMs: 20_000, what: "edge-r1-v6 established with 2+1 prefixes", diagnostics },
    );
    expect(device.sessions).toBe(1);

    // No restart: the same gateway process, started once; the first session never dropped.
    expect(stack.gateway.process.pid).toBe(pid);
    expect(stack.gateway.process.running).toBe(true);
    expect(stack.gateway.find("gateway started")).toHaveLength(1);
    const after = await established("to_agent4");
    expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
    expect((await stack.gateway.device("edge-r1"))?.sessions_total).toBe(1);
  }, 60_000);

  test("a broken file on SIGHUP is refused with one line; both devices stay", async () => {
    writeFileSync(join(stack.topo.dir, "gateway.toml"), "[[device]]\nname = \n");
    sighup();
    const refused = await stack.gateway.waitForRecord(/^reload refused/, 10_000);
    expect(refused?.level).toBe("error");
    expect(stack.gateway.find(/^reload refused/)).toHaveLength(1);
    expect(stack.gateway.process.running).toBe(true);
    const names = (await stack.gateway.devices())?.map((d) => d.name).sort();
    expect(names).toEqual(["edge-r1", "edge-r1-v6"]);
    expect((await stack.gateway.device("edge-r1-v6"))?.state).toBe("established");
  }, 30_000);
});
