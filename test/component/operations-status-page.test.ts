/**
 * The gateway's HTML status page, as a browser shows it: headless Chromium (Debian's
 * chromium) loads `/` of a live gateway with an established collector session (prefix
 * counts), a relayed session and an idle device, dumps the DOM and takes a screenshot.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { DUAL_STACK_CAPS, establishRouter } from "../support/bgp-router.ts";
import { chromiumPath, chromiumSkipNote } from "../support/ops-tools.ts";
import { run } from "../support/process.ts";
import { forwardDevice, type Stack, startDaemon, startStack } from "../support/stack.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

function chromiumArgs(profile: string): string[] {
  return [
    chromiumPath ?? "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
  ];
}

/** A router that brings its collector session to Established and announces prefixes. */
async function establishedRouter(port: number): Promise<Socket> {
  const socket = await establishRouter(
    { port, local: "127.0.0.1", asn: 65001, routerId: "10.0.0.1" },
    (s) => cleanups.push(() => s.destroy()),
    DUAL_STACK_CAPS,
  );
  socket.write(
    encodeUpdate({
      origin: 0,
      asPath: [65001, 65010],
      nextHop: "10.0.0.1",
      nlri: ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.128/25"],
    }),
  );
  socket.write(
    encodeUpdate({
      origin: 0,
      asPath: [65001],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:100::/48", "2001:db8:200::/48"] },
    }),
  );
  return socket;
}

describe(`gateway status page in headless Chromium${chromiumSkipNote}`, () => {
  test.skipIf(!chromiumPath)(
    "devices with state and prefix counts, agents with heartbeat age: in the DOM and on screen",
    async () => {
      const daemon = await startDaemon((s) => {
        s.on("data", (d: Buffer) => s.write(d));
        s.on("error", () => {});
      });
      cleanups.push(() => daemon.server.close());
      const stack: Stack = await startStack({
        collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
        devices: [
          { name: "edge-r1", id: 1, site: 0, ip: "127.0.0.1", target: { kind: "collector" } },
          forwardDevice("127.0.0.2", daemon.port, { name: "edge-r2", id: 2 }),
          {
            name: "core<&>r3",
            id: 3,
            site: 0,
            ip: "127.0.0.3",
            target: { kind: "collector" },
            md5Key: "k3y-secret",
          },
        ],
      });
      cleanups.push(() => stack.close());
      await establishedRouter(stack.routerPort);
      const relayed = connect({
        host: "127.0.0.1",
        port: stack.routerPort,
        localAddress: "127.0.0.2",
      });
      cleanups.push(() => relayed.destroy());
      relayed.on("error", () => {});
      relayed.write("x");
      const api = `http://127.0.0.1:${stack.gateway.httpPort}`;
      await waitUntil(
        async () => {
          const devices = (await (await fetch(`${api}/api/devices`)).json()) as Array<{
            name: string;
            state: string;
            prefixes: { ipv4: number; ipv6: number };
          }>;
          const r1 = devices.find((d) => d.name === "edge-r1");
          const r2 = devices.find((d) => d.name === "edge-r2");
          return (
            r1?.state === "established" &&
            r1.prefixes.ipv4 === 3 &&
            r1.prefixes.ipv6 === 2 &&
            r2?.state === "connected"
          );
        },
        { timeoutMs: 8_000, what: "edge-r1 established with 3 + 2 prefixes, edge-r2 connected" },
      );

      const profile = makeTempDir("chromium");
      cleanups.push(() => removeTempDir(profile));
      const dom = await run([...chromiumArgs(join(profile, "dom")), "--dump-dom", `${api}/`], {
        timeoutMs: 60_000,
      });
      const html = dom.stdout;
      // Devices: names (escaped), states and prefix counts, as rendered cells.
      expect(html).toContain("<title>bgproxy gateway</title>");
      expect(html).toMatch(
        /<td class="name">edge-r1<\/td>[\s\S]*?<span class="badge established">established<\/span>[\s\S]*?<td class="num ipv4">3<\/td><td class="num ipv6">2<\/td>/,
      );
      expect(html).toMatch(
        /<td class="name">edge-r2<\/td>[\s\S]*?<span class="badge connected">connected<\/span>/,
      );
      expect(html).toMatch(
        /<td class="name">core&lt;&amp;&gt;r3<\/td>[\s\S]*?<span class="badge idle">idle<\/span>/,
      );
      expect(html).not.toContain("k3y-secret");
      // Agents: the one agent, with its heartbeat age.
      expect(html).toContain(`<td class="mono">${stack.agent.instance}</td>`);
      expect(html).toMatch(/<td class="age">\d+\.\d s<\/td>/);

      const png = join(profile, "status-page.png");
      await run(
        [
          ...chromiumArgs(join(profile, "shot")),
          `--screenshot=${png}`,
          "--window-size=1200,800",
          `${api}/`,
        ],
        { timeoutMs: 60_000 },
      );
      expect(existsSync(png)).toBe(true);
      const size = statSync(png).size;
      expect(size).toBeGreaterThan(20_000); // a blank 1200×800 page is a few KB
      if (process.env.BGPROXY_KEEP_SCREENSHOT) {
        await Bun.write(process.env.BGPROXY_KEEP_SCREENSHOT, Bun.file(png));
      }
    },
    90_000,
  );
});
