/**
 * Issue 11's fault matrix, end to end, in one topology (test/support/fault-matrix.ts): BIRD,
 * FRR and GoBGP each peer with one `bgproxy agent --resume-window 5`, every router with one
 * session to the gateway's built-in collector and one forwarded to a BIRD daemon: six
 * sessions. Each fault is applied once to all of them, in sequence, each leaving the stack
 * healthy for the next:
 *
 * 1. gateway `kill -9` and restart — bridged: the agent keeps every router session up and
 *    replays it to the new gateway's far ends, which get the tables through route refresh;
 * 2. gateway SIGTERM (drain: RESTART on every Data stream) and restart — bridged as well;
 * 3. an HTTP/2 connection reset (`ss -K`) — resumed on the same gateway: the far ends (the
 *    collector's sessions, the BIRD daemon's connections) never notice;
 * 4. a 5 s partition (the agent's link to the gateway down inside its namespace) — carried
 *    by TCP;
 * 5. a reload (SIGHUP) that adds one device per router — the new sessions come up, the six
 *    stay;
 * 6. the same devices on a second agent — refused (`ALREADY_EXISTS`), logged once per device,
 *    the first agent's sessions stay (docs/resilience.md, "One agent per device");
 *
 * After every fault: each router's session never left Established (BIRD's "since", FRR's
 * established/dropped counters, GoBGP's flops and uptime) and each far end holds exactly the
 * router's prefixes (the collector through the gateway's route API, the daemon's `show route`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BRIDGE_LOG } from "../support/bridge-stack.ts";
import { type FaultMatrix, type MatrixSession, startFaultMatrix } from "../support/fault-matrix.ts";
import { frrMissing } from "../support/frr.ts";
import { gobgpMissing } from "../support/gobgp.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const problem = canRunNetns ? [frrMissing(), gobgpMissing()].filter(Boolean).join("; ") : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");
const RESUMED = "session resumed on a new Data stream";
const REFUSED = "refused a second agent for a device another agent relays (first one stays)";

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e fault matrix: BIRD, FRR, GoBGP × collector, forward × every fault${note}`,
  () => {
    let m: FaultMatrix;
    /** Sessions every fault must leave untouched (the six, then the added ones too). */
    let live: MatrixSession[] = [];

    /**
     * After a fault: every far end holds exactly its router's prefixes, and every session has
     * the mark it had before (it never left Established).
     */
    const survived = async (before: Map<string, string | undefined>, timeoutMs?: number) => {
      await m.farEndsHold(live, timeoutMs);
      const after = await m.established(live);
      expect([...after]).toEqual([...before]);
    };

    const takeovers = () => m.agent.find(BRIDGE_LOG.tookOver).length;

    /** Runs `fault`, then waits until the agent logged `msg` once more for every live session. */
    const oncePerSession = async (msg: string, fault: () => Promise<unknown>) => {
      const seen = m.agent.find(msg).length;
      await fault();
      await waitUntil(() => m.agent.find(msg).length >= seen + live.length, {
        timeoutMs: 40_000,
        what: `${live.length} more agent records "${msg}"`,
        diagnostics: m.diagnostics,
      });
    };

    /** Collector sessions ever opened per collector device (a new one after a bridge). */
    const collectorSessionTotals = async () => {
      const out: Record<string, number> = {};
      for (const s of live.filter((x) => x.farEnd === "collector")) {
        out[s.device] = (await m.gateways.current.device(s.device)).sessions_total;
      }
      return out;
    };

    beforeAll(async () => {
      m = await startFaultMatrix();
      live = [...m.core];
    }, 60_000);

    afterAll(async () => {
      await m?.stop();
    }, 60_000);

    test("all six sessions come up; every far end holds its router's prefixes", async () => {
      await m.established(live);
      await m.farEndsHold(live);
    }, 60_000);

    test("gateway kill -9 and restart: bridged, no router notices", async () => {
      const before = await m.established(live);
      await oncePerSession(BRIDGE_LOG.tookOver, async () => {
        await m.gateways.stop("kill");
        await m.agent.waitForRecord(BRIDGE_LOG.lost, 10_000);
        await m.gateways.startAgain();
      });
      await survived(before);
    }, 90_000);

    test("gateway SIGTERM (drain) and restart: RESTART answered, bridged, no router notices", async () => {
      const before = await m.established(live);
      await oncePerSession(BRIDGE_LOG.tookOver, async () => {
        const drained = await m.gateways.stop("term");
        expect(drained.find("draining: RESTART sent on every Data stream")).toHaveLength(1);
        await m.gateways.startAgain();
      });
      await survived(before);
    }, 90_000);

    test("HTTP/2 connection reset (ss -K): every session resumed, the far ends never notice", async () => {
      const before = await m.established(live);
      const farBefore = await m.farEndSince();
      const lost = m.agent.find(BRIDGE_LOG.lost).length;
      const collectorSessions = await collectorSessionTotals();
      await oncePerSession(RESUMED, () => m.resetConnections());
      await survived(before);
      expect(m.agent.find(BRIDGE_LOG.lost)).toHaveLength(lost);
      expect(await collectorSessionTotals()).toEqual(collectorSessions);
      expect([...(await m.farEndSince())]).toEqual([...farBefore]);
    }, 60_000);

    test("5 s partition: carried by TCP, nothing bridged or resumed", async () => {
      const before = await m.established(live);
      const farBefore = await m.farEndSince();
      const events = () => m.agent.find(BRIDGE_LOG.lost).length + m.agent.find(RESUMED).length;
      const seen = events();
      await m.partition(5_000);
      await Bun.sleep(2_000);
      await survived(before);
      expect(events()).toBe(seen);
      expect([...(await m.farEndSince())]).toEqual([...farBefore]);
    }, 60_000);

    test("a reload that adds a device per router: the new sessions come up, no other moves", async () => {
      const before = await m.established(live);
      const pid = m.gateways.current.process.pid;
      m.addDevices();
      const reloaded = await m.gateways.current.waitForRecord("reloaded", 10_000);
      expect(reloaded).toMatchObject({ removed: "", sessions_ended: 0 });
      expect(String(reloaded.added).split(/,\s*/).sort()).toEqual(
        m.added.map((s) => s.device).sort(),
      );
      // Only now do the routers try (an unknown device would be deny-listed by the agent).
      for (const s of m.added) await s.router.enable(s.agent);
      await m.established(m.added);
      await m.farEndsHold(m.added);
      expect(m.gateways.current.process.pid).toBe(pid);
      await survived(before);
      live = [...live, ...m.added];
    }, 90_000);

    test("the same devices on a second agent: refused and logged once each; the first agent's sessions stay", async () => {
      const before = await m.established(live);
      const gateway = m.gateways.current;
      await m.startSecondAgent();
      for (const s of m.duplicates) await s.router.enable(s.agent);
      const devices = [...new Set(m.duplicates.map((s) => s.device))].sort();
      await waitUntil(
        () => new Set(gateway.find(REFUSED).map((r) => r.device)).size === devices.length,
        { timeoutMs: 40_000, what: "a refusal for every duplicate", diagnostics: m.diagnostics },
      );
      // The routers retry on their own schedules (1-10 s): give each time for another try.
      await Bun.sleep(8_000);
      const refusals = gateway.find(REFUSED);
      expect(refusals.map((r) => r.device).sort()).toEqual(devices);
      expect(refusals.every((r) => r.level === "warn")).toBe(true);
      expect([...(await m.marks(m.duplicates)).values()].every((v) => v === undefined)).toBe(true);
      await survived(before);
      for (const s of m.duplicates) await s.router.enable(s.agent, false);
    }, 90_000);
  },
);
