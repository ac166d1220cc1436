/**
 * Every service definition under image/ starts bgproxy with the runtime environment the
 * benchmark measures (scripts/packaging/runtime-flags.ts RUNTIME_ENV), each in its own syntax.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RUNTIME_ENV } from "../../scripts/packaging/runtime-flags.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** Service definition → how it sets NAME=VALUE. */
const LAUNCHERS: Record<string, (name: string, value: string) => string> = {
  "image/systemd/bgproxy.service": (n, v) => `\nEnvironment=${n}=${v}\n`,
  "image/systemd/bgproxy-gateway.service": (n, v) => `\nEnvironment=${n}=${v}\n`,
  "image/docker/Dockerfile": (n, v) => `\nENV ${n}=${v}\n`,
  "image/alpine/bgproxy.initd": (n, v) => `\nexport ${n}=${v}\n`,
  "image/alpine/bgproxy-gateway.initd": (n, v) => `\nexport ${n}=${v}\n`,
  "image/openwrt/bgproxy.init": (n, v) => `\tprocd_append_param env ${n}=${v}\n`,
};

describe("runtime environment of the shipped services", () => {
  test("RUNTIME_ENV is not empty (the check below would pass on nothing)", () => {
    expect(Object.keys(RUNTIME_ENV).length).toBeGreaterThan(0);
  });

  for (const [file, line] of Object.entries(LAUNCHERS)) {
    test(`${file} sets every RUNTIME_ENV variable`, () => {
      const text = readFileSync(join(ROOT, file), "utf8");
      const missing = Object.entries(RUNTIME_ENV)
        .map(([name, value]) => line(name, value))
        .filter((wanted) => !text.includes(wanted));
      expect(missing).toEqual([]);
    });
  }
});
