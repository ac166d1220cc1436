import { describe, expect, test } from "bun:test";
import { channelOptions } from "../../src/agent/gateway-dialer.ts";
import { gatewayServerOptions } from "../../src/gateway/agent-server.ts";
import { DEFAULT_HOLD_TIME_S, transportKeepalive } from "../../src/proto/transport-liveness.ts";
import { agentConfig } from "../support/stack.ts";

describe("transport liveness follows what BGP sessions tolerate", () => {
  test("a silent link is given up no sooner than the longest common BGP hold time", () => {
    expect(DEFAULT_HOLD_TIME_S).toBeGreaterThanOrEqual(240);
    const agent = channelOptions(agentConfig(1));
    expect(agent["grpc.keepalive_timeout_ms"]).toBeGreaterThanOrEqual(DEFAULT_HOLD_TIME_S * 1000);
    const server = gatewayServerOptions();
    expect(server["grpc.keepalive_timeout_ms"]).toBeGreaterThanOrEqual(DEFAULT_HOLD_TIME_S * 1000);
  });

  test("a longer hold time stretches it (capped); pings still go out often", () => {
    expect(transportKeepalive(600).timeoutMs).toBe(600_000);
    expect(transportKeepalive(65_535).timeoutMs).toBe(3_600_000);
    expect(transportKeepalive(3).timeoutMs).toBe(DEFAULT_HOLD_TIME_S * 1000);
    expect(transportKeepalive(600).timeMs).toBeLessThanOrEqual(30_000);
  });
});
