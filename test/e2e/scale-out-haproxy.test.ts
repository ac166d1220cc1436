/**
 * Scale-out behind a real HAProxy, with the shipped image/haproxy/haproxy.cfg as it is
 * (its addresses come from environment variables):
 *
 *   R: 25 light BGP routers (the session swarm) + one BIRD router
 *     --rp-->  P: two `bgproxy agent`s (TLS to HAProxy, verifying gateway.test)
 *     --pc-->  C: HAProxy (TLS terminated, h2c to the gateways) + gateways gw-a and gw-b
 *
 * Both gateways read one configuration directory (--config DIR: a base file and a devices
 * file) and differ only in --name. Checked: the sessions are spread over the gateways;
 * every Data stream lands on the gateway its backend-pin names (each gateway counts the
 * pins of the streams it accepted: all "self"); killing the gateway that holds BIRD's
 * session (kill -9) moves its sessions to the other one within seconds, bridged by the
 * agents: BIRD's session never leaves Established (same "since", no error), no swarm
 * router's connection closes, and the survivor's collector holds BIRD's prefix; an
 * HAProxy soft reload (-sf, -x) restarts no session, in both the TLS-terminating and the
 * passthrough frontend, and new sessions connect after it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  type BgproxyProcess,
  type DeviceView,
  type GatewayProcess,
  startAgentProcess,
} from "../support/bgproxy-process.ts";
import { Bird, SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import { BRIDGE_LOG, collectorHolds, routerEstablished } from "../support/bridge-stack.ts";
import { checkHaproxyConfig, type Haproxy } from "../support/haproxy.ts";
import { addAddress, destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, hostIn, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { RouterSwarm } from "../support/router-swarm.ts";
import { GATEWAY_NAMES, HAPROXY_CFG, ScaleOutStack } from "../support/scale-out-stack.ts";
import { waitUntil } from "../support/wait.ts";

const COLLECTOR_AS = 64512;
/** Swarm routers: hosts .10 to .34 of the router link; the last one joins after the reload. */
const SWARM_HOSTS = Array.from({ length: 25 }, (_, i) => 10 + i);
/** Routers of the agent that goes through the passthrough frontend: hosts .40 to .43. */
const PASSTHROUGH_HOSTS = [40, 41, 42, 43];
const FIRST_WAVE = 24;
const HOLD_TIME = 9;
const NAMES = GATEWAY_NAMES;

/** The value of one sample line of a Prometheus text (exact series as written), or 0. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const held = (devices: readonly DeviceView[]) => devices.reduce((n, d) => n + d.sessions, 0);

const haproxyMissing = Bun.which("haproxy") === null;

describe.skipIf(!canRunNetns || haproxyMissing)(
  `e2e scale-out: agents -> HAProxy -> two gateways, sessions pinned${
    haproxyMissing ? " [skipped: haproxy not installed (Debian package haproxy)]" : skipNote
  }`,
  () => {
    let topo: RelayTopology;
    let stack: ScaleOutStack | undefined;
    let swarm: RouterSwarm | undefined;
    let bird: Bird | undefined;
    let agentAddress: string[] = [];
    let sources: string[] = [];
    let passthroughSources: string[] = [];
    let passthroughAgent: BgproxyProcess | undefined;
    let birdIp = "";
    const gateway = (name: string) => stack?.gateways.get(name) as GatewayProcess;
    const haproxy = () => stack?.haproxy as Haproxy;

    const diagnostics = () =>
      [
        stack?.tails() ?? "",
        swarm ? `--- swarm\n${swarm.tail(10)}` : "",
        bird ? `--- BIRD\n${bird.logTail(10)}` : "",
      ].join("\n");

    const devicesOf = async (name: string): Promise<DeviceView[]> => {
      const g = stack?.gateways.get(name);
      if (!g?.process.running) return [];
      return g.devices();
    };

    const birdEstablished = async () =>
      (await bird?.protocolState("to_agent"))?.info.startsWith("Established") === true;

    beforeAll(async () => {
      topo = await createRelayTopology({
        collector: true,
        extraRouterHosts: [...SWARM_HOSTS, ...PASSTHROUGH_HOSTS],
      });
      const { rp } = topo;
      await addAddress(topo.proxy, rp.b.ifname, `${hostIn(rp, 3)}/24`);
      agentAddress = [rp.b.ipv4, hostIn(rp, 3)];
      sources = SWARM_HOSTS.map((h) => hostIn(rp, h));
      passthroughSources = PASSTHROUGH_HOSTS.map((h) => hostIn(rp, h));
      birdIp = rp.a.ipv4;
      // One configuration for both gateways: a directory of two files.
      stack = await ScaleOutStack.start({
        topo,
        collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
        devices: [
          { name: "bird-r1", id: 1, ip: birdIp, target: "collector" },
          ...[...sources, ...passthroughSources].map((ip, i) => ({
            name: `swarm-${i + 1}`,
            id: 100 + i,
            ip,
            target: "collector" as const,
          })),
        ],
        agentAddresses: agentAddress,
      });
      swarm = await RouterSwarm.start(topo.router);
    }, 90_000);

    afterAll(async () => {
      await bird?.stop();
      await swarm?.stop();
      await passthroughAgent?.stop();
      await stack?.stop();
      await destroyAllNetns();
    }, 60_000);

    test("the shipped haproxy.cfg passes `haproxy -c`", async () => {
      expect(await checkHaproxyConfig(HAPROXY_CFG, stack?.env ?? {})).toContain(
        "Configuration file is valid",
      );
    });

    test("sessions spread over the gateways; every Data stream lands where its pin says", async () => {
      const s = swarm as RouterSwarm;
      const half = FIRST_WAVE / 2;
      const [one, two] = await Promise.all([
        s.connect(agentAddress[0] ?? "", 179, sources.slice(0, half), { holdTime: HOLD_TIME }),
        s.connect(agentAddress[1] ?? "", 179, sources.slice(half, FIRST_WAVE), {
          holdTime: HOLD_TIME,
        }),
      ]);
      expect([one.established, two.established]).toEqual([half, half]);
      bird = await Bird.start(
        {
          routerId: birdIp,
          asn: 65001,
          neighbors: [
            {
              name: "to_agent",
              address: agentAddress[0] ?? "",
              asn: COLLECTOR_AS,
              localAddress: birdIp,
              import: "none",
              ipv6: false,
              holdTime: HOLD_TIME,
            },
          ],
          static4: ["10.255.210.0/24"],
        },
        { netns: topo.router, label: "bird" },
      );
      const views = await waitUntil(
        async () => {
          const v = await Promise.all(NAMES.map(devicesOf));
          const total = v.reduce((n, d) => n + held(d), 0);
          return total === FIRST_WAVE + 1 && (await birdEstablished()) ? v : undefined;
        },
        { timeoutMs: 30_000, what: "25 sessions held by the gateways", diagnostics },
      );
      // Spread: both gateways hold sessions; each device is on exactly one gateway.
      for (const v of views) expect(held(v)).toBeGreaterThan(0);
      const holder = new Map<string, string>();
      for (const v of views) {
        for (const d of v.filter((x) => x.sessions > 0)) {
          expect(holder.has(d.name)).toBe(false);
          holder.set(d.name, d.gateway ?? "");
        }
      }
      expect(holder.size).toBe(FIRST_WAVE + 1);
      // Each gateway says so in /metrics, and every stream it accepted carried its own pin.
      for (const [i, name] of NAMES.entries()) {
        const metrics = await gateway(name).apiText("/metrics");
        const mine = held(views[i] ?? []);
        expect(sample(metrics, `bgproxy_gateway_sessions_active{gateway="${name}"}`)).toBe(mine);
        expect(
          sample(metrics, `bgproxy_gateway_data_streams_total{gateway="${name}",pin="self"}`),
        ).toBe(mine);
        for (const pin of ["other", "none"]) {
          expect(
            sample(metrics, `bgproxy_gateway_data_streams_total{gateway="${name}",pin="${pin}"}`),
          ).toBe(0);
        }
      }
      // HAProxy sees both gateways up.
      const servers = (await haproxy().servers()).filter((x) => x.proxy === "gateways");
      expect(servers.map((x) => [x.server, x.status])).toEqual([
        ["gw-a", "UP"],
        ["gw-b", "UP"],
      ]);
    }, 90_000);

    test("killing the gateway that holds BIRD's session: BIRD never leaves Established; every session is bridged onto the other", async () => {
      // The victim is the gateway BIRD's session is on (its /api/devices lists bird-r1 with
      // a session); it holds swarm sessions too. Every router here advertises route refresh
      // (BIRD, and the swarm's OPEN: scripts/bench/bgp-wire.ts), and the built-in collector
      // never sends them an UPDATE, so the agents bridge all of them: no router connection
      // closes, and each session's new Data stream (its pin names the dead gateway) is sent
      // by HAProxy to the survivor, whose collector gets the router's table again through
      // a route refresh.
      const views = await Promise.all(NAMES.map(devicesOf));
      const victimIndex = views.findIndex((v) =>
        v.some((d) => d.name === "bird-r1" && d.sessions > 0),
      );
      expect(victimIndex).toBeGreaterThanOrEqual(0);
      const victim = NAMES[victimIndex] ?? NAMES[0];
      const survivor = victim === NAMES[0] ? NAMES[1] : NAMES[0];
      const moved = held(views[victimIndex] ?? []);
      expect(moved).toBeGreaterThan(1); // BIRD and at least one swarm router
      const s = swarm as RouterSwarm;
      const swarmBefore = await s.status();
      const birdBefore = await routerEstablished(bird, diagnostics);
      const takeovers = () =>
        stack?.agents.reduce((n, a) => n + a.find(BRIDGE_LOG.tookOver).length, 0) ?? 0;
      const takenOverBefore = takeovers();

      const killedAt = Date.now();
      await gateway(victim).process.stop({ signal: "SIGKILL" });
      let birdDown = 0;
      await waitUntil(
        async () => {
          if (!(await birdEstablished())) birdDown += 1;
          const v = await devicesOf(survivor);
          return held(v) === FIRST_WAVE + 1 && takeovers() - takenOverBefore === moved
            ? v
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: `all sessions on ${survivor}`, diagnostics },
      );
      const seconds = (Date.now() - killedAt) / 1000;
      console.log(
        `${moved} sessions of ${victim} (BIRD's among them) bridged onto ${survivor} after ${seconds.toFixed(1)} s`,
      );
      expect(seconds).toBeLessThan(30);
      // The survivor's collector holds exactly BIRD's prefix set, from its first session.
      const birdOnSurvivor = await collectorHolds(gateway(survivor), 1, 0, {
        device: "bird-r1",
        diagnostics,
      });
      expect(birdOnSurvivor.sessions_total).toBe(1);
      // BIRD's session never left Established: same "since", no error, no NOTIFICATION.
      expect(birdDown).toBe(0);
      const birdAfter = await routerEstablished(bird, diagnostics);
      expect(sinceApartMs(birdAfter.since, birdBefore.since)).toBeLessThan(SINCE_JITTER_MS);
      expect(await bird?.birdc("show", "protocols", "all", "to_agent")).not.toContain("Last error");
      expect(bird ? readFileSync(bird.logPath, "utf8") : "").not.toMatch(
        /to_agent: (Received|Error)/,
      );
      // The swarm routers were bridged too: none of their connections closed.
      const swarmAfter = await s.status();
      expect(swarmAfter.closed).toBe(swarmBefore.closed);
      expect(swarmAfter.established).toBe(FIRST_WAVE);
      expect(swarmAfter.errors).toEqual([]);
      for (const a of stack?.agents ?? []) {
        expect(a.find("router session closed by the bridge")).toHaveLength(0);
      }
      for (const d of await devicesOf(survivor)) expect(d.gateway).toBe(survivor);
      // HAProxy's health checks mark it down after two failed checks (inter 1s fall 2).
      await waitUntil(
        async () => {
          const servers = await haproxy().servers();
          const down = servers.find((x) => x.proxy === "gateways" && x.server === victim);
          return down?.status.startsWith("DOWN");
        },
        { timeoutMs: 10_000, what: `HAProxy: ${victim} DOWN`, diagnostics },
      );
    }, 60_000);

    test("an HAProxy soft reload restarts no session; new ones connect", async () => {
      // The old HAProxy sends GOAWAY on every agent connection it terminates TLS for and
      // keeps serving the open streams; grpc-js drops the GOAWAY'd subchannel within ~10 s,
      // and the agent's ReapingCredentials must not then close a connection that still
      // carries streams (docs/scale-out.md, "Reloading HAProxy"). Watched for 20 s: longer
      // than a hold time and than that ~12 s.
      const survivor = NAMES.find((n) => gateway(n).process.running) ?? NAMES[1];
      const gw = gateway(survivor);
      const s = swarm as RouterSwarm;
      const startedBefore = (await gw.devices()).reduce((n, d) => n + d.sessions_total, 0);
      const closedBefore = (await s.status()).closed;
      const h = haproxy();
      await h.reload();
      const reloadedAt = Date.now();
      let firstRestart: number | undefined;
      let birdDown = 0;
      while (Date.now() - reloadedAt < Math.max(HOLD_TIME + 6, 20) * 1000) {
        await Bun.sleep(500);
        const started = (await gw.devices()).reduce((n, d) => n + d.sessions_total, 0);
        if (firstRestart === undefined && started > startedBefore) firstRestart = Date.now();
        if (!(await birdEstablished())) birdDown += 1;
      }
      const restarted =
        (await gw.devices()).reduce((n, d) => n + d.sessions_total, 0) - startedBefore;
      const first =
        firstRestart === undefined
          ? "none"
          : `${((firstRestart - reloadedAt) / 1000).toFixed(1)} s`;
      console.log(
        `HAProxy reload: ${restarted} of ${FIRST_WAVE + 1} sessions restarted (first: ${first})`,
      );
      expect(restarted).toBe(0);
      expect(birdDown).toBe(0);
      const after = await s.status();
      expect(after.closed).toBe(closedBefore);
      expect(after.established).toBe(FIRST_WAVE);
      expect(held(await gw.devices())).toBe(FIRST_WAVE + 1);
      const late = await s.connect(agentAddress[1] ?? "", 179, sources.slice(FIRST_WAVE), {
        holdTime: HOLD_TIME,
      });
      expect(late.established).toBe(1);
      await waitUntil(async () => held(await gw.devices()) === FIRST_WAVE + 2, {
        timeoutMs: 10_000,
        what: "the late session on the gateway",
        diagnostics,
      });
    }, 90_000);

    test("TLS passthrough frontend: an agent's sessions are relayed and survive a soft reload", async () => {
      // HAProxy forwards the agent's bytes (here cleartext HTTP/2, as it would forward TLS).
      // It speaks no HTTP/2, so a reload sends no GOAWAY and the old process keeps the
      // connections: no session restarts. (Only one gateway is left at this point, so the
      // source stickiness of `balance source` is not what this checks.)
      const { rp, pc } = topo;
      await addAddress(topo.proxy, rp.b.ifname, `${hostIn(rp, 4)}/24`);
      passthroughAgent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${hostIn(rp, 4)}:179`],
        target: `${pc?.b.ipv4}:9444`,
        label: "agent-passthrough",
        logLevel: "info",
      });
      const s = swarm as RouterSwarm;
      const opened = await s.connect(hostIn(rp, 4), 179, passthroughSources, {
        holdTime: HOLD_TIME,
      });
      expect(opened.established).toBe(passthroughSources.length);
      const mine = (v: DeviceView[]) =>
        v.filter((d) => passthroughSources.includes(d.ip) && d.sessions > 0);
      const holderOf = async () => {
        for (const name of NAMES) {
          if (
            (await devicesOf(name)).some((d) => passthroughSources.includes(d.ip) && d.sessions > 0)
          ) {
            return name;
          }
        }
        return undefined;
      };
      const holder = await waitUntil(
        async () => {
          const name = await holderOf();
          return name && mine(await devicesOf(name)).length === passthroughSources.length
            ? name
            : undefined;
        },
        { timeoutMs: 20_000, what: "the passthrough sessions on one gateway", diagnostics },
      );
      const started = (v: DeviceView[]) =>
        v
          .filter((d) => passthroughSources.includes(d.ip))
          .reduce((n, d) => n + d.sessions_total, 0);
      const before = started(await devicesOf(holder));
      await haproxy().reload();
      await Bun.sleep((HOLD_TIME + 6) * 1000);
      const after = await devicesOf(holder);
      expect(mine(after).length).toBe(passthroughSources.length);
      expect(started(after)).toBe(before);
    }, 60_000);
  },
);
