/**
 * Issue 9's memory bound with real processes: `bgproxy agent` and `bgproxy gateway` (separate
 * processes in one namespace, its loopback), a router pushing 200 MiB as fast as the agent
 * takes it and a forwarded daemon reading 1 MB/s. The router must be held back (what it
 * handed to its socket stays within a bounded distance of what the daemon read), not
 * buffered, and each process's resident memory (VmRSS sampled every 100 ms, and VmHWM) may
 * grow only by a bounded amount over what it held before the session.
 *
 * The issue's target is 16 MiB per process. Measured here (cold processes, plain gRPC): agent
 * +17.8 to +23.7 MiB, gateway +12.6 to +14.6 MiB in four runs before the agent's burst
 * collections (DEVELOPERS.md, "Data path: slow far end memory (session 4)"); with them agent
 * +15.1 to +18.0, gateway +14.6 to +15.1 in three runs on the shared machine (session 5): the
 * first burst at full speed (native HTTP/2 and socket buffers, first-use warm-up), not data
 * held. Session 6 (shared machine): with the gateway's collection when a stream is held,
 * gateway +11.6, +13.9, +14.8 MiB, agent +16.6, +18.1, +13.6 (with an adaptive stream window,
 * since removed: gateway +10.1 to +12.1). Session 7 (shared machine), with the gateway's
 * full collections in a burst once its RSS grew by 6 MiB: gateway +12.0, +10.5, +13.4 MiB,
 * agent +13.3, +18.1, +13.1. Session 8 (idle machine): gateway +11.9, +11.9, +11.3, agent
 * +11.6, +17.8, +14.1; plain TLS relays without HTTP/2 or gRPC, in Bun or Node, grow as much
 * in the same setup (scripts/bench/relay-floor.ts, test/support/slow-far-end.ts: DEVELOPERS.md,
 * "Data path: slow far end memory (session 8)"). Session 9: the agent's encoded messages are
 * released as soon as HTTP/2 sent them (src/proto/frame-release.ts) and its writes call back
 * only then (no grpc-js retry buffer): in scripts/bench/relay-floor.ts's copy of this setup the
 * agent grew +10.2 to +15.3 MiB in twelve runs (main: +16.3 to +19.9), the gateway unchanged.
 * Session 12 (idle machine, this test sixteen times): agent +8.6 to +13.3 MiB, gateway +8.9 to
 * +11.2. So both are held to the issue's 16 MiB (MAX_GROWTH, MAX_GATEWAY_GROWTH: a process
 * buffering the table, +250 MiB before issue 9, fails either at once), and the test prints the
 * growth it saw; the benchmark's scenario 5 checks both against the issue's 16 MB with the
 * full table. No timing assertions: the run lasts a fixed 10 s and only amounts are checked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BgproxyProcess, GatewayProcess } from "../support/bgproxy-process.ts";
import { createNetns, destroyAllNetns, type Netns } from "../support/netns.ts";
import { type ManagedProcess, spawnManaged } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import {
  daemonScript,
  lastCount,
  routerScript,
  startBgproxyPair,
  watchGrowth,
} from "../support/slow-far-end.ts";

const MiB = 1024 * 1024;
const DAEMON_PORT = 11790;
const ROUTER_PORT = 11791;
/** The agent's growth: the 16 MiB target (up to 13.3 MiB seen in session 12, above). */
const MAX_GROWTH = 16 * MiB;
/** The gateway's growth: the 16 MiB target (up to 11.2 MiB seen in session 12, above). */
const MAX_GATEWAY_GROWTH = 16 * MiB;
/**
 * Kernel socket buffers, HTTP/2 windows and relay buffers between router and daemon (loopback
 * autotuning: 15-22 MiB seen here, up to 44 MiB in the benchmark's slow far end).
 */
const MAX_HELD = 48 * MiB;

const pushedBy = (router: ManagedProcess) => lastCount(router, "pushed");

describe.skipIf(!canRunNetns)(
  `e2e: a far end reading 1 MB/s while 200 MiB are pushed, separate processes${skipNote}`,
  () => {
    let ns: Netns;
    let dir = "";
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    const helpers: ManagedProcess[] = [];

    const helper = async (label: string, script: string) => {
      const p = spawnManaged([process.execPath, "-e", script], { netns: ns.name, label });
      helpers.push(p);
      return p;
    };

    beforeAll(async () => {
      ns = await createNetns();
      const daemon = await helper("daemon", daemonScript(DAEMON_PORT));
      await daemon.waitForLine(/^listening$/, 10_000);
      dir = await mkdtemp(join(tmpdir(), "bgpx-relay-memory-"));
      ({ agent, gateway } = await startBgproxyPair(ns, dir, {
        router: ROUTER_PORT,
        daemon: DAEMON_PORT,
      }));
    }, 60_000);

    afterAll(async () => {
      for (const p of helpers) await p.stop();
      await agent?.stop();
      await gateway?.stop();
      await destroyAllNetns();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("the router is held back and each process's growth is bounded", async () => {
      const a = agent?.process.pid ?? 0;
      const g = gateway?.process.pid ?? 0;
      const daemon = helpers[0] as ManagedProcess;
      let router: ManagedProcess | undefined;
      const { growth, peaks } = await watchGrowth(
        { agent: a, gateway: g },
        {
          durationMs: 10_000,
          intervalMs: 100,
          start: async () => {
            router = await helper("router", routerScript(ROUTER_PORT));
          },
          peaksOf: {
            held: () => (router ? pushedBy(router) - lastCount(daemon, "read") : undefined),
          },
        },
      );
      const maxHeld = peaks.held ?? 0;
      const read = lastCount(daemon, "read");
      const pushed = router ? pushedBy(router) : 0;
      const seen = `growth agent ${(growth.agent / MiB).toFixed(1)} MiB, gateway ${(growth.gateway / MiB).toFixed(1)} MiB; pushed ${(pushed / MiB).toFixed(1)} MiB, read ${(read / MiB).toFixed(1)} MiB, held at most ${(maxHeld / MiB).toFixed(1)} MiB`;
      console.log(
        `relay-memory: ${seen} (bound: agent ${MAX_GROWTH / MiB} MiB, gateway ${MAX_GATEWAY_GROWTH / MiB} MiB)`,
      );
      expect(read).toBeGreaterThan(4 * MiB); // the daemon did read all along
      expect(maxHeld).toBeLessThan(MAX_HELD); // the router was held back...
      expect(pushed).toBeLessThan(100 * MiB); // ...far from everything it had to send
      expect(growth.agent).toBeLessThan(MAX_GROWTH);
      expect(growth.gateway).toBeLessThan(MAX_GATEWAY_GROWTH);
    }, 30_000);
  },
);
