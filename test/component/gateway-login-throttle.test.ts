/**
 * A flood of wrong-token calls from one address: after a few failures the gateway refuses
 * that address without checking credentials and logs a handful of lines rather than one
 * per call; when the block runs out, a good login from there works again.
 */
import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import type { ProxyClient } from "../../src/proto/service.ts";
import { credentials, rawGateway } from "../support/raw-gateway.ts";
import { TEST_TOKEN } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";

const cleanups = cleanupsAfterEach();

/** Opens a Control call with these credentials; resolves with the status it ends with. */
function controlCall(client: ProxyClient, token: string): Promise<grpc.StatusObject> {
  const md = credentials(token);
  const call = client.control(md);
  return new Promise((resolve) => {
    call.on("status", resolve);
    call.on("error", () => {});
    call.on("data", () => {});
    // A good login stays open: end it once the server has answered with headers.
    call.on("metadata", () => call.cancel());
  });
}

describe("failed logins", () => {
  test("are throttled per address and logged in aggregate", async () => {
    const { client, logs, close } = await rawGateway();
    cleanups.push(close);

    const statuses: grpc.StatusObject[] = [];
    for (let round = 0; round < 10; round++) {
      const batch = Array.from({ length: 20 }, () => controlCall(client, "wrong-token"));
      statuses.push(...(await Promise.all(batch)));
    }
    expect(statuses).toHaveLength(200);
    expect(statuses.every((s) => s.code !== grpc.status.OK)).toBe(true);
    const throttled = statuses.filter((s) => s.code === grpc.status.RESOURCE_EXHAUSTED);
    expect(throttled.length).toBeGreaterThanOrEqual(150);
    expect(throttled[0]?.details).toMatch(/too many failed logins/);

    const refusals = logs.records().filter((r) => /^refused an agent/.test(r.msg));
    expect(refusals.length).toBeLessThanOrEqual(4);
    expect(logs.find("refused an agent: invalid credentials")[0]).toMatchObject({
      source: "127.0.0.1",
    });
  }, 20_000);

  test("a block runs out, and a good login clears the address", async () => {
    const { client, close } = await rawGateway({ login: { blockMs: 300 } });
    cleanups.push(close);
    for (let i = 0; i < 10; i++) {
      expect((await controlCall(client, "wrong-token")).code).toBe(grpc.status.UNAUTHENTICATED);
    }
    expect((await controlCall(client, TEST_TOKEN)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await Bun.sleep(400);
    expect((await controlCall(client, TEST_TOKEN)).code).toBe(grpc.status.CANCELLED);
    expect((await controlCall(client, "wrong-token")).code).toBe(grpc.status.UNAUTHENTICATED);
  }, 20_000);
});
