/**
 * The collector's routes as the field reads them: a BIRD router in R (AS 65001) announces
 * 3 IPv4 and 2 IPv6 prefixes with standard and large communities to `bgproxy agent` in P,
 * which relays to `bgproxy gateway` in P with the built-in collector, `[mrt]` dumps every
 * 10 s and a `[[bmp]]` station: pmacct's `pmbmpd` in P. `bgpdump` (not our decoder) reads
 * the on-demand snapshot (GET /api/devices/{name}/mrt) and the periodic file; pmbmpd's log
 * shows the Peer Up and the Route Monitoring messages: prefix count and attributes equal
 * what BIRD exported. Withdrawals and the session's end empty the table.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type BgproxyProcess,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird, type BirdConfig } from "../support/bird.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { type ManagedProcess, run } from "../support/process.ts";
import {
  agentNeighbor,
  createRelayTopology,
  type RelayTopology,
} from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.220.0/24", "10.255.221.0/24", "10.255.222.0/23"];
const V6 = ["fd00:255:220::/48", "fd00:255:221::/48"];
const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;
const bgpdump = Bun.which("bgpdump");
const pmbmpd = Bun.which("pmbmpd");
const BMP_PORT = 11790;

/** Fetch a URL inside a namespace into a file (binary). */
const DOWNLOAD = `const r = await fetch(process.argv[1], { signal: AbortSignal.timeout(10000) });
if (!r.ok) { console.error(r.status); process.exit(1); }
await Bun.write(process.argv[2], await r.arrayBuffer());`;

type Fields = string[];

async function readMrt(file: string): Promise<Map<string, Fields>> {
  const out = await run([bgpdump as string, "-m", "-l", file], { timeoutMs: 20_000 });
  const lines = out.stdout.trim().split("\n").filter(Boolean);
  return new Map(lines.map((l) => [l.split("|")[5] as string, l.split("|")]));
}

describe.skipIf(!canRunNetns || !bgpdump || !pmbmpd)(
  `e2e collector: BIRD -> agent -> gateway, MRT read by bgpdump, BMP to pmbmpd${skipNote}`,
  () => {
    let topo: RelayTopology;
    let router: Bird | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let routerConfig: BirdConfig;
    let mrtDir: string;
    let station: ManagedProcess | undefined;
    let bmpLog: string;

    /** pmbmpd's JSON log lines. */
    const bmpRecords = (): Record<string, unknown>[] =>
      existsSync(bmpLog)
        ? readFileSync(bmpLog, "utf8")
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];

    const diagnostics = () =>
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(20)}` : "",
        gateway ? `--- gateway\n${gateway.tail(30)}` : "",
      ].join("\n");

    const routes = (q: string) => {
      if (!gateway) throw new Error("gateway not started");
      return gateway.api<{ routes: { prefix: string; asPath: number[] }[] }>(
        `/api/devices/edge-r1/routes?${q}`,
      );
    };

    const waitCount = async (v4: number, v6: number) => {
      let last: unknown;
      await waitUntil(
        async () => {
          const d = await gateway?.device("edge-r1");
          last = d;
          return d?.prefixes.ipv4 === v4 && d.prefixes.ipv6 === v6;
        },
        {
          timeoutMs: 30_000,
          what: `edge-r1 holds ${v4} + ${v6} prefixes`,
          diagnostics: () => `${JSON.stringify(last)}\n${diagnostics()}`,
        },
      );
    };

    /** Both bgpdump readings hold exactly what BIRD sent. */
    const expectRouterTable = (table: Map<string, Fields>) => {
      expect([...table.keys()].sort()).toEqual([...V4, ...V6].sort());
      // TABLE_DUMP2|time|B|peer ip|peer as|prefix|as path|origin|next hop|lpref|med|communities|large|...
      const v4 = table.get(V4[0] as string) as Fields;
      expect(v4[3]).toBe(topo.rp.a.ipv4);
      expect(v4[4]).toBe(String(ROUTER_AS));
      expect(v4[6]).toBe(`${ROUTER_AS} 65010`);
      expect(v4[8]).toBe(topo.rp.a.ipv4);
      expect(v4[11]).toBe("65001:100 65001:200");
      expect(v4[12]).toBe("65001:7:9");
      const v6 = table.get(V6[0] as string) as Fields;
      expect(v6[6]).toBe(`${ROUTER_AS} 65010`);
      expect(v6[11]).toBe("65001:100 65001:200");
      expect(v6[8]?.includes(":")).toBe(true);
    };

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: false });
      mrtDir = join(topo.dir, "mrt");
      bmpLog = join(topo.dir, "pmbmpd.json");
      station = topo.proxy.spawn(
        ["pmbmpd", "-L", "127.0.0.1", "-l", String(BMP_PORT), "-o", bmpLog],
        {
          label: "pmbmpd",
        },
      );
      await Bun.sleep(500);
      const { rp } = topo;
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec: {
          collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
          devices: [{ name: "edge-r1", id: 1001, ip: rp.a.ipv4, target: "collector" }],
          mrt: { dir: mrtDir, interval: 10, keep: 2 },
          bmp: [`127.0.0.1:${BMP_PORT}`],
        },
      });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`],
        target: gateway.target,
      });
      routerConfig = {
        routerId: rp.a.ipv4,
        asn: ROUTER_AS,
        neighbors: [{ ...agentNeighbor(rp, 4, COLLECTOR_AS), ipv6NextHop: rp.a.ipv6 }],
        static4: V4,
        static6: V6,
        staticAttributes:
          "bgp_path.prepend(65010); bgp_community.add((65001,100)); bgp_community.add((65001,200)); bgp_large_community.add((65001,7,9));",
      };
      router = await Bird.start(routerConfig, { netns: topo.router, label: "router" });
      await waitCount(3, 2);
    }, 90_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await station?.stop({ signal: "SIGKILL" });
      await destroyAllNetns();
    }, 30_000);

    test("the routes API shows BIRD's path and the longest match", async () => {
      const exact = await routes(`prefix=${V4[0]}`);
      expect(exact.routes.map((r) => [r.prefix, r.asPath])).toEqual([
        [V4[0] as string, [ROUTER_AS, 65010]],
      ]);
      const longest = await routes("prefix=10.255.223.9&longest");
      expect(longest.routes.map((r) => r.prefix)).toEqual(["10.255.222.0/23"]);
    }, 20_000);

    test("GET /api/devices/edge-r1/mrt: bgpdump reads every prefix with BIRD's attributes", async () => {
      const file = join(topo.dir, "snapshot.mrt");
      await run(
        [
          process.execPath,
          "-e",
          DOWNLOAD,
          `http://127.0.0.1:${gateway?.httpPort}/api/devices/edge-r1/mrt`,
          file,
        ],
        { netns: topo.proxy.name, timeoutMs: 15_000 },
      );
      expectRouterTable(await readMrt(file));
    }, 30_000);

    test("[mrt] dumps land in the directory every 10 s, rotated to 2, readable by bgpdump", async () => {
      const files = () =>
        existsSync(mrtDir)
          ? readdirSync(mrtDir)
              .filter((n) => n.endsWith(".mrt"))
              .sort()
          : [];
      await waitUntil(() => files().length >= 2, {
        timeoutMs: 35_000,
        what: "two MRT dumps",
        diagnostics,
      });
      await Bun.sleep(11_000);
      const now = files();
      expect(now.length).toBe(2);
      expect(now.every((n) => n.startsWith("edge-r1."))).toBe(true);
      expectRouterTable(await readMrt(join(mrtDir, now[1] as string)));
    }, 60_000);

    test("pmbmpd logs the Peer Up and every prefix with BIRD's attributes (pre-policy)", async () => {
      await waitUntil(
        () =>
          bmpRecords().filter((r) => r.bmp_msg_type === "route_monitor").length >=
          V4.length + V6.length,
        {
          timeoutMs: 20_000,
          what: "pmbmpd: route_monitor for every prefix",
          diagnostics: () =>
            `${bmpRecords()
              .slice(-5)
              .map((r) => JSON.stringify(r))
              .join("\n")}\n${station?.tail(10)}\n${diagnostics()}`,
        },
      );
      const records = bmpRecords();
      expect(records.some((r) => r.bmp_msg_type === "init")).toBe(true);
      const up = records.find((r) => r.bmp_msg_type === "peer_up");
      expect(up?.peer_ip).toBe(topo.rp.a.ipv4);
      expect(up?.peer_asn).toBe(ROUTER_AS);
      expect(up?.bgp_id).toBe(topo.rp.a.ipv4);
      const routes = new Map(
        records
          .filter((r) => r.bmp_msg_type === "route_monitor" && r.log_type === "update")
          .map((r) => [r.ip_prefix as string, r]),
      );
      expect([...routes.keys()].sort()).toEqual([...V4, ...V6].sort());
      const v4 = routes.get(V4[0] as string);
      expect(v4?.is_post).toBe(0);
      expect(v4?.as_path).toBe(`${ROUTER_AS} 65010`);
      expect(v4?.bgp_nexthop).toBe(topo.rp.a.ipv4);
      expect(v4?.comms).toBe("65001:100 65001:200");
      expect(v4?.lcomms).toBe("65001:7:9");
      expect(routes.get(V6[0] as string)?.as_path).toBe(`${ROUTER_AS} 65010`);
    }, 30_000);

    test("after pmbmpd restarts, the gateway reconnects and re-sends the current RIB", async () => {
      await station?.stop({ signal: "SIGKILL" });
      bmpLog = join(topo.dir, "pmbmpd-2.json");
      station = topo.proxy.spawn(
        ["pmbmpd", "-L", "127.0.0.1", "-l", String(BMP_PORT), "-o", bmpLog],
        {
          label: "pmbmpd-2",
        },
      );
      await waitUntil(
        () => {
          const prefixes = bmpRecords()
            .filter((r) => r.bmp_msg_type === "route_monitor" && r.log_type === "update")
            .map((r) => r.ip_prefix as string);
          return new Set(prefixes).size === V4.length + V6.length;
        },
        { timeoutMs: 30_000, what: "the whole RIB at the restarted pmbmpd", diagnostics },
      );
      expect(bmpRecords().some((r) => r.bmp_msg_type === "peer_up")).toBe(true);
    }, 40_000);

    test("a withdrawal and the session's end empty the table", async () => {
      await router?.configure({ ...routerConfig, static4: V4.slice(0, 1), static6: [] });
      await waitCount(1, 0);
      expect((await routes(`prefix=${V4[1]}`)).routes).toEqual([]);
      await router?.disable("to_agent4");
      await waitUntil(
        () =>
          routes(`prefix=${V4[0]}`).then(
            () => false,
            (err: Error) => /HTTP 404: .*no routes for device edge-r1/.test(err.message),
          ),
        { timeoutMs: 20_000, what: "edge-r1's RIB gone with its session", diagnostics },
      );
      await waitUntil(() => bmpRecords().some((r) => r.bmp_msg_type === "peer_down"), {
        timeoutMs: 10_000,
        what: "pmbmpd: peer_down",
        diagnostics,
      });
      const withdrawn = bmpRecords()
        .filter((r) => r.log_type === "withdraw")
        .map((r) => r.ip_prefix);
      expect(withdrawn).toContain(V4[1]);
    }, 60_000);
  },
);
