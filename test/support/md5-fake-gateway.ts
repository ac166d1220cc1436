/**
 * A stand-in gateway for TCP-MD5 end-to-end tests that need answers the real gateway does not
 * give (a short TTL): a plain-text gRPC ProxyService on 127.0.0.1 that answers every
 * ControlRequest with "proceed", the TTL and the key it was started with (or the key of the
 * device's address), echoes keepalives, and holds Data streams open without answering. Run as
 * its own process:
 *
 *   bun test/support/md5-fake-gateway.ts TTL_SECONDS
 *
 * Keys come from the environment: $MD5_FAKE_GATEWAY_KEY for every device, or
 * $MD5_FAKE_GATEWAY_KEYS, a JSON object from device address to key.
 *
 * Writes JSON lines on stdout: {"msg":"fake gateway listening","port":N}, then one
 * {"msg":"control request","device_ip":...} per request and {"msg":"data stream"} per call.
 */
import * as grpc from "@grpc/grpc-js";
import { ControlAction, type ControlRequest, type DataMessage } from "../../src/proto/messages.ts";
import { type ProxyServiceServer, proxyServiceDefinition } from "../../src/proto/service.ts";

const ttlSeconds = Number(process.argv[2] ?? "3");
const encode = (k: string) => new TextEncoder().encode(k);
const defaultKey = encode(process.env.MD5_FAKE_GATEWAY_KEY ?? "");
const keys = new Map(
  Object.entries(
    JSON.parse(process.env.MD5_FAKE_GATEWAY_KEYS ?? "{}") as Record<string, string>,
  ).map(([ip, k]) => [ip, encode(k)]),
);
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const service: ProxyServiceServer = {
  control(call) {
    call.sendMetadata(new grpc.Metadata());
    call.on("data", (r: ControlRequest) => {
      const keepalive = r.action === ControlAction.KEEPALIVE;
      if (!keepalive)
        say({ msg: "control request", device_ip: r.deviceIp, device_port: r.devicePort });
      call.write({
        proto: r.proto,
        deviceIp: r.deviceIp,
        devicePort: r.devicePort,
        proxyIp: r.proxyIp,
        proxyPort: r.proxyPort,
        ttlSeconds: keepalive ? 0 : ttlSeconds,
        ttlCounter: 0,
        action: keepalive ? ControlAction.KEEPALIVE : ControlAction.UNSPECIFIED,
        metadata: [],
        companyId: 1,
        deviceId: 1,
        deviceName: "fake",
        tcpMd5: keepalive ? new Uint8Array(0) : (keys.get(r.deviceIp) ?? defaultKey),
      });
    });
    call.on("end", () => call.end());
    call.on("error", () => {});
  },
  data(call: grpc.ServerDuplexStream<DataMessage, DataMessage>) {
    say({ msg: "data stream" });
    const md = new grpc.Metadata();
    md.set("counter-up", "0");
    md.set("counter-down", "0");
    call.sendMetadata(md);
    call.on("data", () => {});
    call.on("end", () => call.end());
    call.on("error", () => {});
  },
};

const server = new grpc.Server();
server.addService(proxyServiceDefinition, service);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    say({ msg: "fake gateway failed", error: err.message });
    process.exit(1);
  }
  say({ msg: "fake gateway listening", port });
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
