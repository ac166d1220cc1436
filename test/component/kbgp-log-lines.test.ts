/**
 * The log lines the reference manual quotes, printed by a real agent with --human-logs in
 * the same shape: timestamp format, level word, message and field names. The two quotes
 * below are copied from the manual as they stand (the token replaced); the first comes
 * from a 2022 version of the reference, whose component field was still called `module`.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { createLogger } from "../../src/core/logger.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const MANUAL_DENY =
  "2023-07-25 17:01:49.87 INF Deny-listed an INVALID / UNKNOWN device component=proxy/client-data device_ip=::1 local-addr=[::1]:179 peer-addr=[::1]:49285 service=ktbgp-agent sessid=904e3b00-d6c5-4b2c-b40a-67b0b4f128a8 ttl_counter=0 ttl_seconds=1200";
const MANUAL_OPEN =
  '2022-05-05T20:01:43Z INF opening Data stream client-metadata={"counter-down":["0"],"x-ch-auth-api-token":["myKentikApiToken"]} device=1289:a6r_kx1_gobgpd:127353-ipv4 local-addr=10.250.12.10:179 module=proxy/client-data peer-addr=10.250.15.1:65411 service=ktbgp-agent session-id=cbce1788-bb34-4c2c-8056-5b3224d4e893';

interface Shape {
  time: string;
  level: string;
  msg: string;
  fields: string[];
}

/** Splits a console line: time (one or two words), level word, message, then key=value fields. */
function shape(line: string): Shape {
  const m = /^(\d{4}-\d\d-\d\d(?:T\S+| \S+)) ([A-Z]{3}) (.*?)((?: [a-z_-]+=\S+)*)$/.exec(line);
  if (!m) throw new Error(`not a console line: ${line}`);
  const fields = (m[4] ?? "")
    .trim()
    .split(" ")
    .map((kv) => kv.slice(0, kv.indexOf("=")));
  return { time: m[1] ?? "", level: m[2] ?? "", msg: m[3] ?? "", fields };
}

const cleanups = cleanupsAfterEach();

async function stack(devices: ReturnType<typeof forwardDevice>[]) {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", human: true, write: (l) => lines.push(l) });
  const gateway: RunningGateway = await startGateway(gatewayConfig({ devices }), logger);
  cleanups.push(() => gateway.close());
  const agent: RunningAgent = await startAgent(
    agentConfig(gateway.port, { listen: [{ host: "::1", port: 0 }] }),
    logger,
  );
  cleanups.push(() => agent.close());
  const router = connect({ host: "::1", port: agent.listening[0]?.port ?? 0 });
  router.on("error", () => {});
  cleanups.push(() => router.destroy());
  return lines;
}

describe("--human-logs lines in the manual's shape", () => {
  test("Deny-listed an INVALID / UNKNOWN device: INF, the same time format and field names", async () => {
    const lines = await stack([]);
    await waitUntil(() => lines.some((l) => l.includes("Deny-listed")), {
      timeoutMs: 5_000,
      what: "the deny-list line",
    });
    const ours = shape(lines.find((l) => l.includes("Deny-listed")) ?? "");
    const manual = shape(MANUAL_DENY);
    expect(ours.level).toBe("INF");
    expect(ours.msg).toBe(manual.msg);
    expect(ours.time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d$/);
    expect(manual.time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d$/);
    expect(ours.fields).toEqual(manual.fields);
  }, 15_000);

  test("opening Data stream: INF and the manual's field names (module is now component)", async () => {
    const daemon = await startDaemon((s) => s.on("error", () => {}));
    cleanups.push(() => daemon.server.close());
    const lines = await stack([forwardDevice("::1", daemon.port)]);
    await waitUntil(() => lines.some((l) => l.includes("opening Data stream")), {
      timeoutMs: 5_000,
      what: "the opening Data stream line",
    });
    const line = lines.find((l) => l.includes("opening Data stream")) ?? "";
    const ours = shape(line);
    const manual = shape(MANUAL_OPEN);
    expect(ours.level).toBe(manual.level);
    expect(ours.msg).toBe(manual.msg);
    const renamed = manual.fields.map((f) => (f === "module" ? "component" : f)).sort();
    // device_ip is ours on every session line (the 2023 reference has it on its deny line).
    expect(ours.fields.filter((f) => f !== "device_ip")).toEqual(renamed);
    expect(line).toContain("component=proxy/client-data");
    expect(line).toContain('"x-ch-auth-api-token":"[redacted]"');
  }, 15_000);
});
