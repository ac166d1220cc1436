/**
 * How long the gateway takes to load a big device file, and at what memory: a TOML file
 * of N [[device]] entries (plus one account and the collector) is written to a temporary
 * directory, then a fresh Bun process reads and parses it with the gateway's own loader
 * (`loadGatewayConfig`) and reports the time and its peak RSS (VmHWM, whole process).
 *
 *   bun scripts/bench/config-load.ts [--devices N[,N...]] [--runs R]
 *
 * Target (issue 15): 100,000 devices in under 2 s at under 150 MB. Prints one markdown
 * row per size (the median of R runs); exits 1 if the loader refuses the file. Needs no
 * root and no network. `runConfigLoad` is the same measurement for the bench runner.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HERE = import.meta.path;

export interface ConfigLoadResult {
  readonly devices: number;
  readonly fileBytes: number;
  /** Median wall time of the parse alone, ms. */
  readonly parseMs: number;
  /** Peak RSS of the loading process (Bun itself included), bytes. */
  readonly peakRss: number;
}

/** A gateway file with `n` distinct devices: both targets, MD5 keys, sites, v4 and v6. */
export function deviceFile(n: number): string {
  const parts = [
    '[[account]]\nemail = "ops@example.net"\ntoken_sha256 = "',
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    '"\n\n[collector]\nasn = 64512\nrouter_id = "192.0.2.1"\n',
  ];
  for (let i = 0; i < n; i++) {
    const ip =
      i % 4 === 3
        ? `2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`
        : `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
    const target =
      i % 2 === 0 ? 'target = "collector"' : 'target = "forward"\nforward = "192.0.2.10:179"';
    const md5 = i % 3 === 0 ? `md5_key = "key-${i}"\n` : "";
    parts.push(
      `\n[[device]]\nname = "edge-${i}"\nid = ${i + 1}\nsite = ${i % 7}\nip = "${ip}"\n${md5}${target}\n`,
    );
  }
  return parts.join("");
}

function peakRss(): number {
  const status = require("node:fs").readFileSync("/proc/self/status", "utf8") as string;
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** In the child: load the file once, print {parseMs, peakRss} as JSON. */
async function child(path: string): Promise<void> {
  const { loadGatewayConfig } = await import("../../src/config/gateway-config.ts");
  const start = performance.now();
  const config = loadGatewayConfig(["--config", path, "--insecure"], {});
  const parseMs = performance.now() - start;
  process.stdout.write(
    `${JSON.stringify({ parseMs, peakRss: peakRss(), devices: config.devices.length })}\n`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Writes the file for `devices`, loads it `runs` times in fresh processes. */
export function runConfigLoad(devices: number, runs = 3): ConfigLoadResult {
  const dir = mkdtempSync(join(tmpdir(), "bgpx-config-load-"));
  try {
    const path = join(dir, "gateway.toml");
    const text = deviceFile(devices);
    writeFileSync(path, text);
    const samples: { parseMs: number; peakRss: number }[] = [];
    for (let r = 0; r < runs; r++) {
      const p = Bun.spawnSync([process.execPath, HERE, "--child", path], { stderr: "pipe" });
      if (p.exitCode !== 0) {
        throw new Error(`loading ${devices} devices failed: ${p.stderr.toString().trim()}`);
      }
      const got = JSON.parse(p.stdout.toString()) as {
        parseMs: number;
        peakRss: number;
        devices: number;
      };
      if (got.devices !== devices) throw new Error(`loaded ${got.devices} of ${devices} devices`);
      samples.push(got);
    }
    return {
      devices,
      fileBytes: Buffer.byteLength(text),
      parseMs: median(samples.map((s) => s.parseMs)),
      peakRss: median(samples.map((s) => s.peakRss)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(argv: readonly string[]): void {
  const childAt = argv.indexOf("--child");
  if (childAt >= 0) {
    void child(argv[childAt + 1] ?? "");
    return;
  }
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const sizes = (value("--devices") ?? "10000,40000,100000").split(",").map(Number);
  const runs = Number(value("--runs") ?? 3);
  process.stdout.write("| devices | file | parse (median) | peak RSS |\n|---|---|---|---|\n");
  for (const n of sizes) {
    const r = runConfigLoad(n, runs);
    process.stdout.write(
      `| ${r.devices} | ${(r.fileBytes / 2 ** 20).toFixed(1)} MiB | ${(r.parseMs / 1000).toFixed(2)} s | ${(r.peakRss / 2 ** 20).toFixed(0)} MiB |\n`,
    );
  }
}

if (import.meta.main) main(process.argv.slice(2));
