/**
 * TCP-MD5 end to end, keys learned on demand: a BIRD router in namespace R peers, with
 * `password`, with `bgproxy agent --enable-md5-support` in P (which has no key of its own),
 * relayed to `bgproxy gateway` in P whose devices carry `md5_key` and end in the built-in
 * collector. One BIRD runs four sessions, each from its own address (one device each) to its
 * own agent address:
 *
 *   good4   10.255.r.1     -> 10.255.r.2      right password        Established, routes
 *   good6   fd00:255:r::1  -> fd00:255:r::2   right password (IPv6)  Established, routes
 *   wrong   10.255.r.3     -> 10.255.r.5      wrong password         never; TCPMD5Failure
 *   nopass  10.255.r.4     -> 10.255.r.6      no password            never; TCPMD5NotFound
 *
 * The agent listens on its defaults (0.0.0.0:179 and [::]:179). Also: the start-up probe
 * fails closed with one line when a capability is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  type BgproxyProcess,
  type DeviceView,
  type GatewayProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird } from "../support/bird.ts";
import {
  AGENT_ENV,
  md5AgentArgv,
  md5KeyPeers,
  netnsMd5Counters,
  startMd5Agent,
} from "../support/md5-topology.ts";
import { addAddress, destroyAllNetns } from "../support/netns.ts";
import { run, spawnManaged } from "../support/process.ts";
import { createRelayTopology, hostIn, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.220.0/24", "10.255.221.0/24", "10.255.222.0/24"];
const V6 = ["fd00:255:220::/48", "fd00:255:221::/48"];
const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;
const KEYS = {
  good4: "good-4-secret",
  good6: "good-6-secret",
  wrong: "the-right-key",
  nopass: "nopass-key",
};

describe.skipIf(!canRunNetns)(
  `e2e TCP-MD5: BIRD with passwords -> agent -> gateway${skipNote}`,
  () => {
    let topo: RelayTopology;
    let router: Bird | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    const ip = (host: number) => hostIn(topo.rp, host);

    const diagnostics = () =>
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(30)}` : "",
        gateway ? `--- gateway\n${gateway.tail(15)}` : "",
      ].join("\n");

    const waitDevice = async (name: string, what: string, ok: (d: DeviceView) => boolean) => {
      let last: DeviceView | undefined;
      return waitUntil(
        async () => {
          last = await gateway?.device(name);
          return last && ok(last) ? last : undefined;
        },
        {
          timeoutMs: 20_000,
          what: `/api/devices: ${name} ${what}`,
          diagnostics: () => `last seen: ${JSON.stringify(last)}\n${diagnostics()}`,
        },
      );
    };

    const waitEstablished = async (protocol: string) => {
      const bird = router;
      if (!bird) throw new Error("router BIRD not started");
      await waitUntil(
        async () => (await bird.protocolState(protocol))?.info.startsWith("Established"),
        {
          timeoutMs: 20_000,
          what: `router: ${protocol} Established`,
          diagnostics: async () =>
            `${await bird.birdc("show", "protocols", "all", protocol).catch(String)}\n${diagnostics()}`,
        },
      );
    };

    const agentLogs = (msg: string | RegExp, deviceIp: string) =>
      agent?.find(msg).filter((r) => r.device_ip === deviceIp) ?? [];

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: false, extraRouterHosts: [3, 4] });
      const { rp, proxy } = topo;
      await addAddress(proxy, rp.b.ifname, `${ip(5)}/24`);
      await addAddress(proxy, rp.b.ifname, `${ip(6)}/24`);
      const device = (name: keyof typeof KEYS, id: number, addr: string) => ({
        name,
        id,
        ip: addr,
        md5Key: KEYS[name],
        target: "collector" as const,
      });
      gateway = await startGatewayProcess({
        netns: proxy,
        dir: topo.dir,
        spec: {
          collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
          devices: [
            device("good4", 1001, rp.a.ipv4),
            device("good6", 1002, rp.a.ipv6),
            device("wrong", 1003, ip(3)),
            device("nopass", 1004, ip(4)),
          ],
        },
      });
      agent = await startMd5Agent({ netns: proxy, target: gateway.target });
      const base = { asn: COLLECTOR_AS, import: "none" as const };
      router = await Bird.start(
        {
          routerId: rp.a.ipv4,
          asn: ROUTER_AS,
          neighbors: [
            {
              ...base,
              name: "good4",
              address: rp.b.ipv4,
              localAddress: rp.a.ipv4,
              password: KEYS.good4,
            },
            {
              ...base,
              name: "good6",
              address: rp.b.ipv6,
              localAddress: rp.a.ipv6,
              ipv4NextHop: rp.a.ipv4,
              password: KEYS.good6,
            },
            {
              ...base,
              name: "wrong",
              address: ip(5),
              localAddress: ip(3),
              password: "not-the-key",
            },
            { ...base, name: "nopass", address: ip(6), localAddress: ip(4) },
          ],
          static4: V4,
          static6: V6,
        },
        { netns: topo.router, label: "router" },
      );
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await destroyAllNetns();
    }, 30_000);

    test("IPv4: the key is learned on the first signed SYN; the session is Established with its routes", async () => {
      await waitEstablished("good4");
      const d = await waitDevice(
        "good4",
        "established with all routes",
        (v) => v.prefixes.ipv4 === V4.length && v.prefixes.ipv6 === V6.length,
      );
      expect(d).toMatchObject({ state: "established", md5: true, sessions: 1 });
      // One question for the device, one key, on the IPv4 listener only.
      expect(agentLogs("asking the gateway for a signed SYN's key", topo.rp.a.ipv4)).toHaveLength(
        1,
      );
      const installed = agentLogs("installed a TCP-MD5 key", topo.rp.a.ipv4);
      expect(installed).toHaveLength(1);
      expect(installed[0]?.listeners).toEqual(["0.0.0.0:179"]);
      expect(await md5KeyPeers(topo.proxy, "listening", 179)).toContain(topo.rp.a.ipv4);
      // The router's first SYN arrived before the key: the kernel counted it.
      expect((await netnsMd5Counters(topo.proxy)).TCPMD5Unexpected).toBeGreaterThan(0);
    }, 30_000);

    test("IPv6 transport: the same, with the key on the IPv6 listener", async () => {
      await waitEstablished("good6");
      await waitDevice(
        "good6",
        "established with all routes",
        (v) => v.prefixes.ipv4 === V4.length && v.prefixes.ipv6 === V6.length,
      );
      const installed = agentLogs("installed a TCP-MD5 key", topo.rp.a.ipv6);
      expect(installed).toHaveLength(1);
      expect(installed[0]?.listeners).toEqual(["[::]:179"]);
    }, 30_000);

    test("a wrong password never establishes; TCPMD5Failure rises in the agent's namespace", async () => {
      await waitUntil(async () => (await netnsMd5Counters(topo.proxy)).TCPMD5Failure >= 2, {
        timeoutMs: 15_000,
        what: "TCPMD5Failure >= 2",
        diagnostics,
      });
      // The agent learned the device's (right) key; the router's signatures do not match it.
      expect(agentLogs("installed a TCP-MD5 key", ip(3))).toHaveLength(1);
      expect(agentLogs("asking the gateway for a signed SYN's key", ip(3))).toHaveLength(1);
      expect((await router?.protocolState("wrong"))?.info).not.toMatch(/Established/);
      const d = await gateway?.device("wrong");
      expect(d?.sessions_total).toBe(0);
    }, 30_000);

    test("a router without a password is refused when its device has a key", async () => {
      // Its first connection may be accepted before any key exists: admission refuses it
      // (unsigned, key expected) and installs the key; from then on the kernel drops its SYNs.
      await waitUntil(async () => (await netnsMd5Counters(topo.proxy)).TCPMD5NotFound >= 1, {
        timeoutMs: 15_000,
        what: "TCPMD5NotFound >= 1",
        diagnostics,
      });
      // The router never signs, so only admission can have installed the device's key.
      expect(agentLogs(/connection is not signed/, ip(4)).length).toBeGreaterThanOrEqual(1);
      expect(agentLogs("installed a TCP-MD5 key", ip(4))).toHaveLength(1);
      expect(await md5KeyPeers(topo.proxy, "listening", 179)).toContain(ip(4));
      expect((await router?.protocolState("nopass"))?.info).not.toMatch(/Established/);
      const d = await gateway?.device("nopass");
      expect(d?.sessions_total).toBe(0);
      // No Data stream was ever opened for it.
      expect(agentLogs("opening Data stream", ip(4))).toHaveLength(0);
    }, 30_000);

    test("the good sessions are still up, and no key appears in any log", async () => {
      expect((await router?.protocolState("good4"))?.info).toMatch(/Established/);
      expect((await router?.protocolState("good6"))?.info).toMatch(/Established/);
      const all = `${agent?.process.output()}\n${gateway?.process.output()}`;
      for (const key of [...Object.values(KEYS), "not-the-key"]) expect(all).not.toContain(key);
    });
  },
);

describe.skipIf(!canRunNetns)(`e2e TCP-MD5: start-up fails closed${skipNote}`, () => {
  /** Run the agent with a capability removed from its bounding set; it must exit at once. */
  const withoutCapability = async (cap: string) => {
    const r = await run(
      [
        "setpriv",
        `--bounding-set=-${cap}`,
        "--",
        ...md5AgentArgv({ target: "127.0.0.1:1", listen: ["127.0.0.1:0"] }),
      ],
      { check: false, timeoutMs: 15_000, env: AGENT_ENV },
    );
    return { code: r.code, lines: r.stderr.trim().split("\n"), stdout: r.stdout };
  };

  test("without CAP_NET_RAW: exit 1, one line naming it, nothing bound", async () => {
    const r = await withoutCapability("net_raw");
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      /^bgproxy: TCP-MD5 support \(--enable-md5-support\): missing CAP_NET_RAW/,
    );
    expect(r.stdout).not.toContain("agent started");
  }, 20_000);

  test("without CAP_NET_ADMIN (Docker's default capabilities): starts on a smaller capture buffer, with a warning naming --cap-add NET_ADMIN", async () => {
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    // Ask for more than rmem_max allows, so that the fallback shows on any host.
    const proc = spawnManaged(
      [
        "setpriv",
        "--bounding-set=-net_admin",
        "--",
        ...md5AgentArgv({ target: "127.0.0.1:1", listen: ["127.0.0.1:0"] }),
      ],
      {
        label: "agent-no-net-admin",
        env: { ...AGENT_ENV, BGPROXY_MD5_CAPTURE_BUFFER_BYTES: String(rmemMax * 4) },
      },
    );
    try {
      const line = await proc.waitForLine(/"msg":"SYN capture receive buffer limited/, 15_000);
      const record = JSON.parse(line.input ?? "{}");
      expect(record.level).toBe("warn");
      expect(record.msg).toContain("--cap-add NET_ADMIN");
      expect(record.receive_buffer_bytes).toBe(2 * rmemMax);
      await proc.waitForLine(/"msg":"TCP-MD5 support enabled"/, 15_000);
    } finally {
      await proc.stop();
    }
  }, 30_000);

  test("an unknown --md5-listen-interface: exit 2, one line", async () => {
    const r = await run(
      md5AgentArgv({ target: "127.0.0.1:1", listen: ["127.0.0.1:0"], interface: "nosuchif0" }),
      { check: false, timeoutMs: 15_000, env: AGENT_ENV },
    );
    const lines = r.stderr.trim().split("\n");
    expect(r.code).toBe(2);
    expect(lines).toEqual([
      "bgproxy: TCP-MD5 support (--enable-md5-support): --md5-listen-interface: no interface named nosuchif0",
    ]);
  }, 20_000);
});
