/**
 * A gateway on port 0 and a bare ProxyService client dialling it (no agent in between):
 * for tests that speak to the gateway as an attacker or a broken agent would.
 */
import * as grpc from "@grpc/grpc-js";
import { dataCallPairs, toMetadata } from "../../src/agent/call-metadata.ts";
import type { GatewayConfig } from "../../src/config/types.ts";
import { type GatewayDeps, type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import type { DataMessage } from "../../src/proto/messages.ts";
import { MetadataKey } from "../../src/proto/metadata.ts";
import { type ProxyClient, ProxyServiceClient } from "../../src/proto/service.ts";
import { captureLogs, type LogCapture } from "./log-capture.ts";
import { gatewayConfig, TEST_EMAIL, TEST_TOKEN } from "./stack.ts";

export interface RawGateway {
  gateway: RunningGateway;
  client: ProxyClient;
  logs: LogCapture;
  close(): Promise<void>;
}

export async function rawGateway(
  deps: GatewayDeps = {},
  clientOptions: grpc.ChannelOptions = {},
  config: Partial<GatewayConfig> = {},
): Promise<RawGateway> {
  const logs = captureLogs();
  const gateway = await startGateway(gatewayConfig(config), logs.logger, deps);
  const client = new ProxyServiceClient(
    `127.0.0.1:${gateway.port}`,
    grpc.credentials.createInsecure(),
    clientOptions,
  ) as unknown as ProxyClient;
  return {
    gateway,
    client,
    logs,
    async close() {
      client.close();
      await gateway.close();
    },
  };
}

/** Call metadata with the test account's e-mail and `token`. */
export function credentials(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(MetadataKey.AUTH_EMAIL, TEST_EMAIL);
  md.set(MetadataKey.AUTH_API_TOKEN, token);
  return md;
}

/**
 * One Data call of a session from 127.0.0.1 with the test account, as a contract-only agent
 * opens it (counters `up`/`down`): its messages and headers as they come.
 */
export function openDataCall(client: ProxyClient, sessionId: string, up: number, down: number) {
  const { pairs } = dataCallPairs({
    identity: { email: TEST_EMAIL, token: TEST_TOKEN, siteId: 0, version: "t", instance: "i" },
    tuple: {
      proto: "BGP",
      deviceIp: "127.0.0.1",
      devicePort: 40000,
      proxyIp: "127.0.0.1",
      proxyPort: 179,
    },
    serverPairs: [],
    sessionId,
    counterUp: up,
    counterDown: down,
  });
  const call = client.data(toMetadata(pairs));
  const got: DataMessage[] = [];
  let headers: grpc.Metadata | undefined;
  call.on("metadata", (md: grpc.Metadata) => {
    headers = md;
  });
  call.on("data", (m: DataMessage) => got.push(m));
  call.on("error", () => {});
  const ended = new Promise<void>((resolve) => call.on("status", () => resolve()));
  return { call, got, headers: () => headers, ended };
}
