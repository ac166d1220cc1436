/**
 * A gateway on port 0 and a bare ProxyService client dialling it (no agent in between):
 * for tests that speak to the gateway as an attacker or a broken agent would.
 */
import * as grpc from "@grpc/grpc-js";
import type { GatewayConfig } from "../../src/config/types.ts";
import { type GatewayDeps, type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { MetadataKey } from "../../src/proto/metadata.ts";
import { type ProxyClient, ProxyServiceClient } from "../../src/proto/service.ts";
import { captureLogs, type LogCapture } from "./log-capture.ts";
import { gatewayConfig, TEST_EMAIL } from "./stack.ts";

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
