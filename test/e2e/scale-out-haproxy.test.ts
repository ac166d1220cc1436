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
 * pins of the streams it accepted: all "self"); killing a gateway brings its sessions back
 * on the other one within seconds (there is no bridging yet: the routers reconnect); after
 * an HAProxy soft reload (-sf, -x) every session is up within seconds and new sessions
 * connect. A lossless reload does NOT hold yet: see the last test's comment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type BgproxyProcess,
  type DeviceView,
  type GatewayDevice,
  type GatewayProcess,
  renderGatewayToml,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird } from "../support/bird.ts";
import { checkHaproxyConfig, Haproxy } from "../support/haproxy.ts";
import { addAddress, destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, hostIn, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { RouterSwarm } from "../support/router-swarm.ts";
import { makeTestPki, type TestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const CFG = resolve(import.meta.dir, "..", "..", "image", "haproxy", "haproxy.cfg");
const COLLECTOR_AS = 64512;
/** Swarm routers: hosts .10 to .34 of the router link; the last one joins after the reload. */
const SWARM_HOSTS = Array.from({ length: 25 }, (_, i) => 10 + i);
const FIRST_WAVE = 24;
const HOLD_TIME = 9;
const NAMES = ["gw-a", "gw-b"] as const;

/** The value of one sample line of a Prometheus text (exact series as written), or 0. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const held = (devices: readonly DeviceView[]) => devices.reduce((n, d) => n + d.sessions, 0);

describe.skipIf(!canRunNetns)(
  `e2e scale-out: agents -> HAProxy -> two gateways, sessions pinned${skipNote}`,
  () => {
    let topo: RelayTopology;
    let pki: TestPki;
    let haproxy: Haproxy | undefined;
    const gateways = new Map<string, GatewayProcess>();
    const agents: BgproxyProcess[] = [];
    let swarm: RouterSwarm | undefined;
    let bird: Bird | undefined;
    let env: Record<string, string>;
    let agentAddress: string[] = [];
    let sources: string[] = [];
    let birdIp = "";

    const diagnostics = () =>
      [
        haproxy?.tail(15) ?? "",
        ...[...gateways].map(([n, g]) => `--- ${n}\n${g.tail(15)}`),
        ...agents.map((a, i) => `--- agent ${i + 1}\n${a.tail(15)}`),
        swarm ? `--- swarm\n${swarm.tail(10)}` : "",
        bird ? `--- BIRD\n${bird.logTail(10)}` : "",
      ].join("\n");

    const devicesOf = async (name: string): Promise<DeviceView[]> => {
      const g = gateways.get(name);
      if (!g?.process.running) return [];
      return g.devices();
    };

    const birdEstablished = async () =>
      (await bird?.protocolState("to_agent"))?.info.startsWith("Established") === true;

    beforeAll(async () => {
      pki = await makeTestPki();
      topo = await createRelayTopology({ collector: true, extraRouterHosts: SWARM_HOSTS });
      const { rp, pc } = topo;
      const central = topo.collector;
      if (!central || !pc) throw new Error("topology without the central namespace");
      await addAddress(topo.proxy, rp.b.ifname, `${hostIn(rp, 3)}/24`);
      agentAddress = [rp.b.ipv4, hostIn(rp, 3)];
      sources = SWARM_HOSTS.map((h) => hostIn(rp, h));
      birdIp = rp.a.ipv4;

      // One configuration for both gateways: a directory of two files.
      const devices: GatewayDevice[] = [
        { name: "bird-r1", id: 1, ip: birdIp, target: "collector" },
        ...sources.map((ip, i) => ({
          name: `swarm-${i + 1}`,
          id: 100 + i,
          ip,
          target: "collector" as const,
        })),
      ];
      const collector = { asn: COLLECTOR_AS, routerId: "192.0.2.1" };
      const base = renderGatewayToml({ collector, devices: [] });
      const all = renderGatewayToml({ collector, devices });
      const confDir = join(topo.dir, "gateway.d");
      mkdirSync(confDir);
      writeFileSync(join(confDir, "10-base.toml"), base);
      writeFileSync(join(confDir, "20-routers.toml"), all.slice(base.length));

      for (const name of NAMES) {
        gateways.set(
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
          }),
        );
      }
      const pem = join(topo.dir, "haproxy.pem");
      writeFileSync(
        pem,
        Buffer.concat([readFileSync(pki.serverCertPath), readFileSync(pki.serverKeyPath)]),
      );
      const [a, b] = NAMES.map((n) => gateways.get(n)?.target ?? "");
      env = {
        BGPROXY_HAPROXY_CERT: pem,
        BGPROXY_GRPC_BIND: `${pc.b.ipv4}:9443`,
        BGPROXY_PASSTHROUGH_BIND: "127.0.0.1:9444",
        BGPROXY_STATS_BIND: "127.0.0.1:8404",
        BGPROXY_GW_A: a ?? "",
        BGPROXY_GW_B: b ?? "",
        BGPROXY_GW_A_TLS: a ?? "",
        BGPROXY_GW_B_TLS: b ?? "",
        BGPROXY_HAPROXY_LOG: "stdout",
        BGPROXY_HAPROXY_MAXCONN: "2000",
        BGPROXY_HAPROXY_SOCKET: join(topo.dir, "check.sock"),
      };
      haproxy = await Haproxy.start({ netns: central, config: CFG, env, dir: topo.dir });
      for (const [i, address] of agentAddress.entries()) {
        agents.push(
          await startAgentProcess({
            netns: topo.proxy,
            listen: [`${address}:179`],
            target: `${pc.b.ipv4}:9443`,
            tls: { caFile: pki.caCertPath, serverName: "gateway.test" },
            label: `agent-${i + 1}`,
            logLevel: "info",
          }),
        );
      }
      swarm = await RouterSwarm.start(topo.router);
    }, 90_000);

    afterAll(async () => {
      await bird?.stop();
      await swarm?.stop();
      for (const a of agents) await a.stop();
      await haproxy?.stop();
      for (const g of gateways.values()) await g.stop();
      await destroyAllNetns();
      pki?.remove();
    }, 60_000);

    test("the shipped haproxy.cfg passes `haproxy -c`", async () => {
      expect(await checkHaproxyConfig(CFG, env)).toContain("Configuration file is valid");
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
        const metrics = await (gateways.get(name) as GatewayProcess).apiText("/metrics");
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
      const servers = (await (haproxy as Haproxy).servers()).filter((x) => x.proxy === "gateways");
      expect(servers.map((x) => [x.server, x.status])).toEqual([
        ["gw-a", "UP"],
        ["gw-b", "UP"],
      ]);
    }, 90_000);

    test("killing a gateway brings its sessions back on the other within seconds", async () => {
      const counts = await Promise.all(NAMES.map(async (n) => held(await devicesOf(n))));
      const victim = (counts[0] ?? 0) >= (counts[1] ?? 0) ? NAMES[0] : NAMES[1];
      const survivor = victim === NAMES[0] ? NAMES[1] : NAMES[0];
      const killedAt = Date.now();
      await (gateways.get(victim) as GatewayProcess).process.stop({ signal: "SIGKILL" });
      const s = swarm as RouterSwarm;
      await waitUntil(
        async () => {
          await s.reconnect(5_000);
          const v = await devicesOf(survivor);
          return held(v) === FIRST_WAVE + 1 && (await birdEstablished()) ? v : undefined;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 500,
          what: `all sessions on ${survivor}`,
          diagnostics,
        },
      );
      const seconds = (Date.now() - killedAt) / 1000;
      console.log(`sessions of ${victim} back on ${survivor} after ${seconds.toFixed(1)} s`);
      expect(seconds).toBeLessThan(30);
      expect((await s.status()).established).toBe(FIRST_WAVE);
      for (const d of await devicesOf(survivor)) expect(d.gateway).toBe(survivor);
      // HAProxy's health checks mark it down after two failed checks (inter 1s fall 2).
      await waitUntil(
        async () => {
          const servers = await (haproxy as Haproxy).servers();
          const down = servers.find((x) => x.proxy === "gateways" && x.server === victim);
          return down?.status.startsWith("DOWN");
        },
        { timeoutMs: 10_000, what: `HAProxy: ${victim} DOWN`, diagnostics },
      );
    }, 60_000);

    test("after an HAProxy soft reload every session is up within seconds; new ones connect", async () => {
      // What a lossless reload would show: no session restarted. What HAProxy 2.6 does: the
      // old process sends GOAWAY on every agent connection it terminates TLS for and keeps
      // serving the open streams, yet ~10 s later the agent's connections close and the
      // sessions on them end (docs/scale-out.md, "Reloading HAProxy"). Until that is solved
      // the routers reconnect, and this test checks that they are all back within seconds.
      const survivor = NAMES.find((n) => gateways.get(n)?.process.running) ?? NAMES[1];
      const gw = gateways.get(survivor) as GatewayProcess;
      const s = swarm as RouterSwarm;
      const startedBefore = (await gw.devices()).reduce((n, d) => n + d.sessions_total, 0);
      const h = haproxy as Haproxy;
      await h.reload();
      // Longer than a hold time and than the ~10 s after which the old connections close.
      await Bun.sleep((HOLD_TIME + 6) * 1000);
      const reloadedAt = Date.now();
      await waitUntil(
        async () => {
          await s.reconnect(5_000);
          const v = await gw.devices();
          return held(v) === FIRST_WAVE + 1 && (await birdEstablished()) ? v : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: "all sessions after the reload", diagnostics },
      );
      const restarted =
        (await gw.devices()).reduce((n, d) => n + d.sessions_total, 0) - startedBefore;
      console.log(
        `HAProxy reload: ${restarted} of ${FIRST_WAVE + 1} sessions restarted; all up ` +
          `${((Date.now() - reloadedAt) / 1000).toFixed(1)} s after the check`,
      );
      expect((await s.status()).established).toBe(FIRST_WAVE);
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
  },
);
