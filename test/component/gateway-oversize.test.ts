/** A message over grpc-js's size limit is refused (RESOURCE_EXHAUSTED) and logged. */
import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { ControlAction } from "../../src/proto/messages.ts";
import { CONTROL_METHOD_PATH } from "../../src/proto/service.ts";
import { credentials, rawGateway } from "../support/raw-gateway.ts";
import { TEST_TOKEN } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

describe("an oversized gRPC message", () => {
  test("is refused with a log line saying so", async () => {
    const { client, logs, close } = await rawGateway({}, { "grpc.max_send_message_length": -1 });
    cleanups.push(close);
    const md = credentials(TEST_TOKEN);
    const call = client.control(md);
    const status = new Promise<grpc.StatusObject>((resolve) => {
      call.on("status", resolve);
      call.on("error", () => {});
      call.on("data", () => {});
    });
    call.write({
      proto: "BGP",
      deviceIp: "x".repeat(5 * 1024 * 1024),
      devicePort: 1,
      proxyIp: "127.0.0.1",
      proxyPort: 179,
      action: ControlAction.UNSPECIFIED,
    });
    expect((await status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const line = await waitUntil(() => logs.find(/oversized gRPC message/)[0], {
      timeoutMs: 2_000,
      what: "the gateway's log line",
    });
    expect(line).toMatchObject({ level: "warn", path: CONTROL_METHOD_PATH });
    expect(String(line.peer)).toContain("127.0.0.1");
  }, 15_000);
});
