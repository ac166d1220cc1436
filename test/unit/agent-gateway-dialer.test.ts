import { describe, expect, test } from "bun:test";
import { channelOptions, ipStandInName } from "../../src/agent/gateway-dialer.ts";
import { parseAgentConfig } from "../../src/config/agent-config.ts";

const CREDS = { KENTIK_API_EMAIL: "ops@example.net", KENTIK_API_TOKEN: "t" };
const config = (...argv: string[]) => parseAgentConfig(argv, CREDS);

describe("TLS to an IP --target", () => {
  test("the stand-in server name is the address's reverse-DNS name", () => {
    expect(ipStandInName("192.0.2.10")).toBe("10.2.0.192.in-addr.arpa");
    expect(ipStandInName("2001:db8::1")).toBe(
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
    expect(ipStandInName("::1")).toMatch(/^1(\.0){31}\.ip6\.arpa$/);
  });

  test("an IP target without --tls-server-name gets the stand-in; a name keeps its own", () => {
    const byIp = channelOptions(config("--target=192.0.2.10:443"));
    expect(byIp["grpc.ssl_target_name_override"]).toBe("10.2.0.192.in-addr.arpa");
    expect(byIp["grpc.default_authority"]).toBeUndefined();
    const named = channelOptions(
      config("--target=192.0.2.10:443", "--tls-server-name=gw.example.net"),
    );
    expect(named["grpc.ssl_target_name_override"]).toBe("gw.example.net");
    expect(named["grpc.default_authority"]).toBe("gw.example.net");
    const byName = channelOptions(config("--target=gw.example.net:443"));
    expect(byName["grpc.ssl_target_name_override"]).toBeUndefined();
    const plain = channelOptions(config("--target=192.0.2.10:443", "--insecure"));
    expect(plain["grpc.ssl_target_name_override"]).toBeUndefined();
  });
});
