import { describe, expect, test } from "bun:test";
import { noProxyMatches, parseProxyUrl, resolveHttpProxy } from "../../src/config/http-proxy.ts";
import { ConfigError } from "../../src/core/errors.ts";

const KENTIK = { host: "grpc.api.kentik.com", port: 443 };

describe("which variable is used", () => {
  test("none set: no proxy", () => {
    expect(resolveHttpProxy(KENTIK, false, {})).toBeUndefined();
  });

  test("HTTPS_PROXY with percent-encoded user:pass", () => {
    const env = { HTTPS_PROXY: "http://svc%40corp:p%3Ass%2Fw%25rd@10.0.0.5:3128" };
    expect(resolveHttpProxy(KENTIK, false, env)).toEqual({
      host: "10.0.0.5",
      port: 3128,
      credentials: "svc@corp:p:ss/w%rd",
    });
  });

  test("a user without a password", () => {
    expect(parseProxyUrl("http://bob@proxy:8080", "HTTPS_PROXY").credentials).toBe("bob:");
  });

  test("lowercase variants work; uppercase wins when both are set", () => {
    expect(resolveHttpProxy(KENTIK, false, { https_proxy: "http://low:1" })).toEqual({
      host: "low",
      port: 1,
    });
    const both = { https_proxy: "http://low:1", HTTPS_PROXY: "http://up:2" };
    expect(resolveHttpProxy(KENTIK, false, both)?.host).toBe("up");
    const noBoth = { HTTPS_PROXY: "http://up:2", no_proxy: "kentik.com" };
    expect(resolveHttpProxy(KENTIK, false, noBoth)).toBeUndefined();
  });

  test("TLS prefers HTTPS_PROXY, falls back to HTTP_PROXY; --insecure prefers HTTP_PROXY", () => {
    const both = { HTTP_PROXY: "http://plain:80", HTTPS_PROXY: "http://tls:3128" };
    expect(resolveHttpProxy(KENTIK, false, both)?.host).toBe("tls");
    expect(resolveHttpProxy(KENTIK, true, both)?.host).toBe("plain");
    expect(resolveHttpProxy(KENTIK, false, { http_proxy: "http://plain:80" })?.host).toBe("plain");
    expect(resolveHttpProxy(KENTIK, true, { HTTPS_PROXY: "http://tls:3128" })?.host).toBe("tls");
  });

  test("empty values count as unset", () => {
    const env = { HTTPS_PROXY: "", HTTP_PROXY: "http://plain:80" };
    expect(resolveHttpProxy(KENTIK, false, env)?.host).toBe("plain");
  });

  test("no scheme means http://, no port means 80, IPv6 proxy hosts lose brackets", () => {
    expect(parseProxyUrl("proxy.corp:3128", "HTTPS_PROXY")).toEqual({
      host: "proxy.corp",
      port: 3128,
    });
    expect(parseProxyUrl("http://proxy.corp", "HTTPS_PROXY").port).toBe(80);
    expect(parseProxyUrl("http://[2001:db8::5]:3128/", "HTTPS_PROXY").host).toBe("2001:db8::5");
  });

  test("a loopback target never uses the proxy", () => {
    const env = { HTTPS_PROXY: "http://tls:3128", HTTP_PROXY: "http://plain:80" };
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) {
      expect(resolveHttpProxy({ host, port: 9443 }, true, env)).toBeUndefined();
    }
  });
});

describe("bad proxy URLs", () => {
  function errorOf(url: string): string {
    try {
      resolveHttpProxy(KENTIK, false, { HTTPS_PROXY: url });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error("expected a ConfigError");
  }

  test("https:// proxies are refused, naming the variable", () => {
    const message = errorOf("https://proxy.corp:3128");
    expect(message).toContain("HTTPS_PROXY");
    expect(message).toContain("https:// proxies are not supported");
  });

  test("other schemes are refused", () => {
    expect(errorOf("socks5://proxy.corp:1080")).toContain('unsupported proxy scheme "socks5"');
  });

  test("the password never appears in an error", () => {
    for (const url of [
      "https://alice:hunter2@p:1",
      "http://alice:hunter2@p:99999",
      "http://a:%zz@p:1",
    ]) {
      const message = errorOf(url);
      expect(message).not.toContain("hunter2");
      expect(message).not.toContain("%zz");
    }
  });

  test("a bad proxy URL is ignored when NO_PROXY excludes the target", () => {
    const env = { HTTPS_PROXY: "https://proxy.corp:3128", NO_PROXY: "*" };
    expect(resolveHttpProxy(KENTIK, false, env)).toBeUndefined();
  });
});

describe("NO_PROXY", () => {
  const cases: [string, string, boolean][] = [
    ["*", "grpc.api.kentik.com", true],
    ["grpc.api.kentik.com", "grpc.api.kentik.com", true],
    ["GRPC.API.KENTIK.COM", "grpc.api.kentik.com", true],
    ["kentik.com", "grpc.api.kentik.com", true],
    [".kentik.com", "grpc.api.kentik.com", true],
    ["*.kentik.com", "grpc.api.kentik.com", true],
    ["kentik.com", "kentik.com", true],
    [".kentik.com", "kentik.com", true],
    ["kentik.com.", "grpc.api.kentik.com", true],
    ["tik.com", "grpc.api.kentik.com", false],
    ["kentik.eu", "grpc.api.kentik.com", false],
    ["example.com, kentik.com", "grpc.api.kentik.com", true],
    [" , ,", "grpc.api.kentik.com", false],
    ["10.0.0.0/8", "10.20.30.40", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["192.168.1.0/24", "192.168.1.255", true],
    ["192.168.1.0/24", "192.168.2.1", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["10.0.0.0/8", "grpc.api.kentik.com", false],
    ["10.0.0.0/33", "10.0.0.1", false],
    ["10.1.2.3", "10.1.2.3", true],
    ["10.1.2.3", "10.1.2.4", false],
    ["2001:db8::1", "2001:db8::1", true],
    ["[2001:DB8::1]", "2001:db8::1", true],
    ["grpc.api.kentik.com:443", "grpc.api.kentik.com", true],
    ["grpc.api.kentik.com:8443", "grpc.api.kentik.com", false],
    ["[2001:db8::1]:443", "2001:db8::1", true],
  ];
  for (const [list, host, want] of cases) {
    test(`${JSON.stringify(list)} ${want ? "matches" : "does not match"} ${host}:443`, () => {
      expect(noProxyMatches(list, { host, port: 443 })).toBe(want);
    });
  }
});
