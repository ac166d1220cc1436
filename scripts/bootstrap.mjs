#!/usr/bin/env node
// Makes a fresh clone work by itself; plain Node ESM with no dependencies, because it runs
// before anything is installed.
//
//   node scripts/bootstrap.mjs start [args...]  (npm start)  bun src/main.ts standalone --demo [args...]
//   node scripts/bootstrap.mjs test [args...]   (npm test)   bun scripts/test-run.ts [args...]
//   node scripts/bootstrap.mjs deps                         install only (used by .ci/run)
//
// Every command first runs `npm ci` (falling back to `npm install`) when node_modules is
// missing or older than package-lock.json, or the Bun binary is missing. `test` and `deps`
// also install the missing Debian packages listed in scripts/apt-packages.txt when running
// as root with apt-get; otherwise they only say what is missing (the tests needing those
// tools report themselves skipped). BGPROXY_SKIP_APT=1 turns the apt step off.
// The child's exit code (or terminating signal) becomes ours; SIGINT/SIGTERM/SIGHUP are
// forwarded to it.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const APT_LIST = join(ROOT, "scripts", "apt-packages.txt");

function log(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why node_modules needs installing, or undefined if it is current. */
function staleReason() {
  const installed = mtime(join(ROOT, "node_modules", ".package-lock.json"));
  if (installed === undefined) return "node_modules is missing";
  if (!existsSync(BUN)) return "node_modules/.bin/bun is missing";
  const lock = mtime(join(ROOT, "package-lock.json"));
  if (lock !== undefined && lock > installed) return "package-lock.json is newer than node_modules";
  return undefined;
}

/** npm as the running npm invoked us (npm_execpath), else from PATH. */
function npm(args) {
  const execpath = process.env.npm_execpath;
  const [cmd, pre] =
    execpath && /\.c?js$/.test(execpath) ? [process.execPath, [execpath]] : ["npm", []];
  const r = spawnSync(cmd, [...pre, ...args], { cwd: ROOT, stdio: "inherit" });
  return r.status === 0;
}

function ensureNodeModules() {
  const reason = staleReason();
  if (reason === undefined) return;
  log(`${reason}: running npm ci`);
  if (!npm(["ci", "--no-audit", "--no-fund"])) {
    log("npm ci failed: trying npm install");
    if (!npm(["install", "--no-audit", "--no-fund"])) {
      log("npm install failed");
      process.exit(1);
    }
  }
  if (!existsSync(BUN)) {
    log(`${BUN} still missing after install`);
    process.exit(1);
  }
}

function aptPackages() {
  return readFileSync(APT_LIST, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean);
}

function isInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's field syntax
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

function haveCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function ensureAptPackages() {
  if (process.env.BGPROXY_SKIP_APT === "1") return;
  if (!haveCommand("dpkg-query") || !haveCommand("apt-get")) {
    log("no apt-get/dpkg here: not installing system packages; tests needing them will be skipped");
    return;
  }
  const missing = aptPackages().filter((p) => !isInstalled(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`not root: not installing ${missing.join(" ")}; tests needing them will be skipped`);
    return;
  }
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Keep package scripts from starting daemons (a stray bgpd on port 179 would break tests).
  const policy = "/usr/sbin/policy-rc.d";
  const addedPolicy = !existsSync(policy);
  if (addedPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const update = spawnSync("apt-get", ["update"], { stdio: "inherit", env });
    if (update.status !== 0) log("apt-get update failed; trying the install anyway");
    const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], {
      stdio: "inherit",
      env,
    });
    if (install.status !== 0) {
      log(
        `apt-get install failed (exit ${install.status}); tests needing those tools will be skipped`,
      );
    }
  } finally {
    if (addedPolicy) unlinkSync(policy);
  }
}

/** Run bun with `args`, forwarding signals, and leave with its exit code or signal. */
function execBun(args) {
  const child = spawn(BUN, args, { cwd: ROOT, stdio: "inherit" });
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of signals) process.on(s, forward);
  child.on("error", (err) => {
    log(`cannot run ${BUN}: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal) {
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "start":
    ensureNodeModules();
    // A demo router shows live numbers without a real one; `npm start -- --demo=false` stops it.
    execBun(["src/main.ts", "standalone", "--demo", ...rest]);
    break;
  case "test":
    ensureNodeModules();
    ensureAptPackages();
    execBun(["scripts/test-run.ts", ...rest]);
    break;
  case "deps":
    ensureNodeModules();
    ensureAptPackages();
    break;
  default:
    log(
      `usage: node scripts/bootstrap.mjs start|test|deps [args...] (got ${command ?? "nothing"})`,
    );
    process.exit(2);
}
