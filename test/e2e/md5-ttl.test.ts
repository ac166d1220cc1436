/**
 * TCP-MD5 keys expire with their ControlResponse TTL. The real gateway answers with a TTL of
 * 60 s, so this test uses a stand-in gateway (test/support/md5-fake-gateway.ts) answering with
 * a 3-second TTL and the key; the agent is the real program with --enable-md5-support, the
 * router a real BIRD with `password`. The stand-in never answers BGP: the session stays a
 * plain TCP connection (BIRD in OpenSent), which is all this test needs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BgproxyProcess } from "../support/bgproxy-process.ts";
import { Bird } from "../support/bird.ts";
import {
  type FakeGateway,
  md5KeyPeers,
  startFakeGateway,
  startMd5Agent,
} from "../support/md5-topology.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const TTL_SECONDS = 3;
const KEY = "short-lived-key";

describe.skipIf(!canRunNetns)(`e2e TCP-MD5: a key lives for its TTL${skipNote}`, () => {
  let topo: RelayTopology;
  let router: Bird | undefined;
  let gateway: FakeGateway | undefined;
  let agent: BgproxyProcess | undefined;

  const diagnostics = () =>
    [
      router ? `--- router BIRD\n${router.logTail(15)}` : "",
      agent ? `--- agent\n${agent.tail(25)}` : "",
      gateway ? `--- gateway\n${gateway.tail(10)}` : "",
    ].join("\n");

  beforeAll(async () => {
    topo = await createRelayTopology({ collector: false });
    gateway = await startFakeGateway(topo.proxy, TTL_SECONDS, KEY);
    agent = await startMd5Agent({
      netns: topo.proxy,
      target: gateway.target,
      listen: [`${topo.rp.b.ipv4}:179`],
    });
    router = await Bird.start(
      {
        routerId: topo.rp.a.ipv4,
        asn: 65001,
        neighbors: [
          {
            name: "ttl_peer",
            address: topo.rp.b.ipv4,
            localAddress: topo.rp.a.ipv4,
            asn: 64512,
            password: KEY,
            ipv6: false,
          },
        ],
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

  const router4 = () => topo.rp.a.ipv4;

  test("the key is learned and the signed connection accepted", async () => {
    await agent?.waitForRecord("opening Data stream", 15_000, (r) => r.device_ip === router4());
    await gateway?.waitForRecord("data stream", 5_000);
    expect(gateway?.requests()).toEqual([router4()]);
    expect(await md5KeyPeers(topo.proxy, "listening", 179)).toEqual([router4()]);
    expect(await md5KeyPeers(topo.proxy, "established", 179)).toEqual([router4()]);
  }, 30_000);

  test("after the TTL the key is gone from the listening socket; the open connection keeps its own", async () => {
    const installed = await agent?.waitForRecord("installed a TCP-MD5 key", 1_000);
    const removed = await agent?.waitForRecord("removed a TCP-MD5 key: its TTL ran out", 10_000);
    const lifetime = Date.parse(String(removed?.time)) - Date.parse(String(installed?.time));
    expect(lifetime).toBeGreaterThanOrEqual(TTL_SECONDS * 1000 - 50);
    expect(lifetime).toBeLessThan(TTL_SECONDS * 1000 + 1_000);
    expect(await md5KeyPeers(topo.proxy, "listening", 179)).toEqual([]);
    expect(await md5KeyPeers(topo.proxy, "established", 179)).toEqual([router4()]);
  }, 30_000);

  test("a new connection after expiry asks the gateway again and gets in", async () => {
    await router?.birdc("restart", "ttl_peer");
    await waitUntil(() => (gateway?.requests().length ?? 0) >= 2, {
      timeoutMs: 15_000,
      what: "a second ControlRequest",
      diagnostics,
    });
    await waitUntil(() => (gateway?.find("data stream").length ?? 0) >= 2, {
      timeoutMs: 15_000,
      what: "a second Data stream",
      diagnostics,
    });
    expect(agent?.find("installed a TCP-MD5 key")).toHaveLength(2);
    expect(agent?.process.output()).not.toContain(KEY);
  }, 30_000);
});
