/**
 * The collector as a route source, in process: a router (our own BGP client over real TCP,
 * through the agent and gateway) announces routes with every kind of community; the
 * gateway's HTTP API answers exact/longest/longer queries, /api/lookup, the MRT snapshot
 * (read back with bgpdump, not our decoder) and the prefix search page (headless Chromium).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { AttrFlag, AttrType } from "../../src/bgp/constants.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { DUAL_STACK_CAPS, establishRouter } from "../support/bgp-router.ts";
import { chromiumPath } from "../support/ops-tools.ts";
import { run } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { waitUntil } from "../support/wait.ts";

const bgpdump = Bun.which("bgpdump");

let stack: Stack;
let router: Socket;
let api: string;
let dir: string;

async function startRouter(port: number): Promise<Socket> {
  const socket = await establishRouter(
    { port, local: "127.0.0.1", asn: 4200000001, routerId: "10.0.0.1" },
    () => {},
    { ...DUAL_STACK_CAPS, fourOctetAs: true },
  );
  socket.write(
    encodeUpdate({
      origin: 0,
      asPath: [4200000001, 174, 13335],
      nextHop: "10.0.0.1",
      med: 50,
      communities: ["174:21000", "65535:666"],
      largeCommunities: [[4200000001, 100, 7]],
      attributes: [
        {
          flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
          type: AttrType.EXTENDED_COMMUNITIES,
          value: Uint8Array.of(0, 2, 0, 174, 0, 0, 0, 9),
        },
      ],
      nlri: ["198.51.100.0/24", "198.51.100.128/25", "203.0.113.0/24"],
    }),
  );
  socket.write(
    encodeUpdate({
      origin: 2,
      asPath: [4200000001, 6939],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:100::/48", "2001:db8::/32"] },
    }),
  );
  return socket;
}

beforeAll(async () => {
  dir = makeTempDir("routes");
  stack = await startStack({
    collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
    devices: [{ name: "edge-r1", id: 1, site: 0, ip: "127.0.0.1", target: { kind: "collector" } }],
  });
  api = `http://127.0.0.1:${stack.gateway.httpPort}`;
  router = await startRouter(stack.routerPort);
  await waitUntil(
    () => {
      const c = stack.gateway.ribs.get("edge-r1")?.rib.counts;
      return c?.ipv4 === 3 && c.ipv6 === 2;
    },
    { timeoutMs: 8_000, what: "edge-r1's RIB holds 3 + 2 routes" },
  );
});

afterAll(async () => {
  router?.destroy();
  await stack?.close();
  removeTempDir(dir);
});

const get = async (path: string) => {
  const r = await fetch(`${api}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe("collector routes over HTTP", () => {
  test("exact match carries AS path, next hop, MED and all three kinds of community", async () => {
    const { status, body } = await get("/api/devices/edge-r1/routes?prefix=198.51.100.0/24");
    expect(status).toBe(200);
    expect(body).toEqual({
      device: "edge-r1",
      prefix: "198.51.100.0/24",
      match: "exact",
      routes: [
        {
          prefix: "198.51.100.0/24",
          origin: "igp",
          asPath: [4200000001, 174, 13335],
          nextHop: "10.0.0.1",
          med: 50,
          communities: ["174:21000", "65535:666"],
          largeCommunities: ["4200000001:100:7"],
          extendedCommunities: ["000200ae00000009"],
        },
      ],
    });
    const none = await get("/api/devices/edge-r1/routes?prefix=198.51.100.0/23");
    expect(none.body.routes).toEqual([]);
  });

  test("longest and longer", async () => {
    const longest = await get("/api/devices/edge-r1/routes?prefix=198.51.100.200/32&longest");
    expect((longest.body.routes as { prefix: string }[]).map((r) => r.prefix)).toEqual([
      "198.51.100.128/25",
    ]);
    const longer = await get("/api/devices/edge-r1/routes?prefix=198.51.100.0/24&longer");
    expect((longer.body.routes as { prefix: string }[]).map((r) => r.prefix).sort()).toEqual([
      "198.51.100.0/24",
      "198.51.100.128/25",
    ]);
    expect(longer.body.truncated).toBe(false);
    const limited = await get("/api/devices/edge-r1/routes?prefix=198.51.100.0/24&longer&limit=1");
    expect((limited.body.routes as unknown[]).length).toBe(1);
    expect(limited.body.truncated).toBe(true);
    const v6 = await get("/api/devices/edge-r1/routes?prefix=2001:db8:100:1::/64&longest");
    expect(v6.body.routes).toEqual([
      {
        prefix: "2001:db8:100::/48",
        origin: "incomplete",
        asPath: [4200000001, 6939],
        nextHop: "2001:db8::1",
      },
    ]);
  });

  test("errors: unknown device 404, bad or missing prefix 400", async () => {
    expect((await get("/api/devices/nope/routes?prefix=10.0.0.0/8")).status).toBe(404);
    expect((await get("/api/devices/edge-r1/routes")).status).toBe(400);
    expect((await get("/api/devices/edge-r1/routes?prefix=10.0.0.1/8")).status).toBe(400);
    expect((await get("/api/lookup?ip=banana")).status).toBe(400);
  });

  test("/api/lookup: the longest match in every device's table", async () => {
    const { body } = await get("/api/lookup?ip=203.0.113.9");
    expect(body.ip).toBe("203.0.113.9");
    const matches = body.matches as {
      device: string;
      route: { prefix: string; asPath: number[] } | null;
    }[];
    expect(matches.map((m) => [m.device, m.route?.prefix])).toEqual([
      ["edge-r1", "203.0.113.0/24"],
    ]);
    expect(matches[0]?.route?.asPath).toEqual([4200000001, 174, 13335]);
    const miss = await get("/api/lookup?ip=192.0.2.77");
    expect(miss.body.matches).toEqual([{ device: "edge-r1", route: null }]);
  });

  test.skipIf(!bgpdump)(
    "MRT snapshot: bgpdump reads every prefix with its attributes",
    async () => {
      const r = await fetch(`${api}/api/devices/edge-r1/mrt`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("application/octet-stream");
      const file = join(dir, "edge-r1.mrt");
      writeFileSync(file, new Uint8Array(await r.arrayBuffer()));
      const out = await run([bgpdump as string, "-m", "-l", file], { timeoutMs: 10_000 });
      const lines = out.stdout.trim().split("\n");
      expect(lines.length).toBe(5);
      const byPrefix = new Map(lines.map((l) => [l.split("|")[5], l.split("|")]));
      expect([...byPrefix.keys()].sort()).toEqual([
        "198.51.100.0/24",
        "198.51.100.128/25",
        "2001:db8:100::/48",
        "2001:db8::/32",
        "203.0.113.0/24",
      ]);
      // TABLE_DUMP2|time|B|peer ip|peer as|prefix|as path|origin|next hop|lpref|med|communities|large|...
      const v4 = byPrefix.get("198.51.100.0/24") as string[];
      expect(v4[3]).toBe("127.0.0.1");
      expect(v4[4]).toBe("4200000001");
      expect(v4[6]).toBe("4200000001 174 13335");
      expect(v4[7]).toBe("IGP");
      expect(v4[8]).toBe("10.0.0.1");
      expect(v4[10]).toBe("50");
      expect(v4[11]).toBe("174:21000 65535:666");
      expect(v4[12]).toBe("4200000001:100:7");
      const v6 = byPrefix.get("2001:db8:100::/48") as string[];
      expect(v6[6]).toBe("4200000001 6939");
      expect(v6[7]).toBe("INCOMPLETE");
      expect(v6[8]).toBe("2001:db8::1");
    },
  );

  test.skipIf(!chromiumPath)(
    "the status page's prefix search, in headless Chromium",
    async () => {
      const profile = makeTempDir("chromium");
      try {
        const args = (p: string) => [
          chromiumPath as string,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          `--user-data-dir=${join(profile, p)}`,
          "--dump-dom",
        ];
        const home = await run([...args("a"), `${api}/`], { timeoutMs: 60_000 });
        expect(home.stdout).toMatch(
          /<form class="search" action="\/lookup" method="get">[\s\S]*name="q"/,
        );
        const page = await run([...args("b"), `${api}/lookup?q=198.51.100.200`], {
          timeoutMs: 60_000,
        });
        expect(page.stdout).toContain("Longest match for 198.51.100.200");
        expect(page.stdout).toMatch(
          /<td class="device">edge-r1<\/td><td class="prefix mono">198\.51\.100\.128\/25<\/td><td class="aspath mono">4200000001 174 13335<\/td><td class="nexthop mono">10\.0\.0\.1<\/td>/,
        );
        expect(page.stdout).toContain("65535:666");
      } finally {
        removeTempDir(profile);
      }
    },
    120_000,
  );
});
