/**
 * Network namespaces and veth links for end-to-end tests (root only; see root.ts).
 *
 * Names: every namespace and interface this module creates starts with `bgpx` followed by this
 * process's 4-hex-digit run tag (`bgpx3fa2` + counter), so parallel runs never collide and
 * interface names stay within the kernel's 15 characters. Addresses come only from
 * 10.255.<n>.0/24 and fd00:255:<n>::/64 and live only inside the namespaces created here; veth
 * ends are created directly inside their namespaces, never in the host's.
 *
 * Cleanup: tests call `destroyAllNetns()` in afterAll; a crash, SIGINT or SIGTERM is covered by
 * the process-exit registry (cleanup.ts); `sweepStale()` removes what a killed run left behind
 * (namespaces whose owning process is gone, recorded in /run/bgpx-owners/<tag>).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { onProcessExit } from "./cleanup.ts";
import {
  inNetns,
  type ManagedProcess,
  type RunOptions,
  type RunResult,
  run,
  type SpawnOptions,
  spawnManaged,
} from "./process.ts";

export const NETNS_PREFIX = "bgpx";
/** This process's run tag: 4 random hex digits. */
export const RUN_TAG = crypto
  .getRandomValues(new Uint8Array(2))
  .reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
const OWNERS_DIR = "/run/bgpx-owners";

export interface Netns {
  readonly name: string;
  /** Run a command inside the namespace, bounded (default 10 s). */
  exec(argv: readonly string[], options?: Omit<RunOptions, "netns">): Promise<RunResult>;
  /** Start a long-running command inside the namespace. */
  spawn(argv: readonly string[], options?: Omit<SpawnOptions, "netns">): ManagedProcess;
}

export interface VethEnd {
  ns: Netns;
  ifname: string;
  /** IPv4 address without prefix length, e.g. 10.255.3.1 */
  ipv4: string;
  /** IPv6 address without prefix length, e.g. fd00:255:3::1 */
  ipv6: string;
}

export interface VethLink {
  /** The `n` in 10.255.n.0/24 and fd00:255:n::/64. */
  subnet: number;
  a: VethEnd;
  b: VethEnd;
}

const created = new Map<string, () => void>();
let nsCounter = 0;
let ifCounter = 0;
let subnetCounter = 0;

function ip(args: readonly string[], options?: RunOptions): Promise<RunResult> {
  return run(["ip", ...args], options);
}

function makeNetns(name: string): Netns {
  return {
    name,
    exec: (argv, options) => run(argv, { ...options, netns: name }),
    spawn: (argv, options) => spawnManaged(argv, { ...options, netns: name }),
  };
}

function recordOwner(): void {
  try {
    mkdirSync(OWNERS_DIR, { recursive: true });
    writeFileSync(`${OWNERS_DIR}/${RUN_TAG}`, `${process.pid}\n`);
  } catch {
    // Without the record a concurrent sweep may consider our namespaces stale; tolerable.
  }
}

/** Kill every process inside `name` and delete it, synchronously (usable at process exit). */
function destroySync(name: string): void {
  const pids = Bun.spawnSync(["ip", "netns", "pids", name]).stdout.toString();
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already
    }
  }
  Bun.spawnSync(["ip", "netns", "del", name]);
}

/** Create a namespace with `lo` up. Name: bgpx<tag><n>. */
export async function createNetns(): Promise<Netns> {
  if (created.size === 0) recordOwner();
  nsCounter += 1;
  const name = `${NETNS_PREFIX}${RUN_TAG}${nsCounter}`;
  await ip(["netns", "add", name]);
  created.set(
    name,
    onProcessExit(() => destroySync(name)),
  );
  await ip(["-n", name, "link", "set", "lo", "up"]);
  return makeNetns(name);
}

/** Kill what runs inside the namespace (SIGTERM, then SIGKILL) and delete it. */
export async function destroyNetns(ns: Netns | string): Promise<void> {
  const name = typeof ns === "string" ? ns : ns.name;
  const pids = await pidsIn(name);
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && (await pidsIn(name)).length > 0) await Bun.sleep(50);
  for (const pid of await pidsIn(name)) signal(pid, "SIGKILL");
  await ip(["netns", "del", name], { check: false });
  created.get(name)?.();
  created.delete(name);
}

/** Destroy every namespace this process created (call from afterAll). */
export async function destroyAllNetns(): Promise<void> {
  for (const name of [...created.keys()].reverse()) await destroyNetns(name);
  if (created.size === 0) rmSync(`${OWNERS_DIR}/${RUN_TAG}`, { force: true });
}

/** Names of the namespaces this process created and has not destroyed. */
export function createdNetns(): string[] {
  return [...created.keys()];
}

/** All network namespaces on the machine (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await ip(["netns", "list"], { check: false });
  return stdout
    .split("\n")
    .map((l) => l.split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function pidsIn(name: string): Promise<number[]> {
  const { stdout } = await ip(["netns", "pids", name], { check: false });
  return stdout.split(/\s+/).filter(Boolean).map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove `bgpx*` namespaces left by earlier runs whose owning process is gone (and their owner
 * records). Namespaces of live runs, including this one, are kept. Returns the names removed.
 */
export async function sweepStale(): Promise<string[]> {
  const removed: string[] = [];
  const pattern = new RegExp(`^${NETNS_PREFIX}([0-9a-f]{4})`);
  for (const name of await listNetns()) {
    const tag = name.match(pattern)?.[1];
    if (tag === undefined || tag === RUN_TAG) continue;
    if (ownerAlive(tag)) continue;
    await destroyNetns(name);
    removed.push(name);
  }
  let records: string[] = [];
  try {
    records = readdirSync(OWNERS_DIR);
  } catch {
    // no records yet
  }
  for (const tag of records) {
    if (tag !== RUN_TAG && !ownerAlive(tag)) rmSync(`${OWNERS_DIR}/${tag}`, { force: true });
  }
  return removed;
}

function ownerAlive(tag: string): boolean {
  try {
    const pid = Number(readFileSync(`${OWNERS_DIR}/${tag}`, "utf8").trim());
    return pid > 0 && isAlive(pid);
  } catch {
    return false;
  }
}

/** Next unused subnet number n for 10.255.n.0/24 / fd00:255:n::/64 (1..254, per process). */
export function allocateSubnet(): number {
  subnetCounter += 1;
  if (subnetCounter > 254) throw new Error("netns: out of 10.255.x.0/24 test subnets");
  return subnetCounter;
}

/** Add an address (CIDR) to an interface in the namespace; IPv6 addresses get `nodad`. */
export async function addAddress(ns: Netns, ifname: string, cidr: string): Promise<void> {
  const v6 = cidr.includes(":");
  await ip([
    "-n",
    ns.name,
    ...(v6 ? ["-6"] : []),
    "addr",
    "add",
    cidr,
    "dev",
    ifname,
    ...(v6 ? ["nodad"] : []),
  ]);
}

/** Add a route inside the namespace, e.g. addRoute(ns, "10.255.9.0/24", "10.255.1.1"). */
export async function addRoute(ns: Netns, prefix: string, via: string): Promise<void> {
  await ip([
    "-n",
    ns.name,
    ...(prefix.includes(":") ? ["-6"] : []),
    "route",
    "add",
    prefix,
    "via",
    via,
  ]);
}

/** Write a sysctl inside the namespace, e.g. setSysctl(ns, "net.ipv4.ip_forward", "1"). */
export async function setSysctl(ns: Netns, key: string, value: string): Promise<void> {
  if (!/^[a-z0-9_.-]+$/i.test(key)) throw new Error(`netns: bad sysctl key ${key}`);
  const path = `/proc/sys/${key.replaceAll(".", "/")}`;
  await run(inNetns(ns.name, ["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", value, path]));
}

/**
 * Join two namespaces with a veth pair. End `a` gets 10.255.n.1/24 and fd00:255:n::1/64, end `b`
 * gets .2 / ::2 (nodad, so usable at once); both are up when this resolves.
 */
export async function linkNetns(a: Netns, b: Netns, subnet = allocateSubnet()): Promise<VethLink> {
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) {
    throw new Error(`netns: subnet ${subnet} outside 1..254`);
  }
  ifCounter += 1;
  const base = `${NETNS_PREFIX}${RUN_TAG}v${ifCounter}`;
  const ifA = `${base}a`;
  const ifB = `${base}b`;
  await ip([
    "link",
    "add",
    ifA,
    "netns",
    a.name,
    "type",
    "veth",
    "peer",
    "name",
    ifB,
    "netns",
    b.name,
  ]);
  const link: VethLink = {
    subnet,
    a: { ns: a, ifname: ifA, ipv4: `10.255.${subnet}.1`, ipv6: `fd00:255:${subnet}::1` },
    b: { ns: b, ifname: ifB, ipv4: `10.255.${subnet}.2`, ipv6: `fd00:255:${subnet}::2` },
  };
  for (const end of [link.a, link.b]) {
    await addAddress(end.ns, end.ifname, `${end.ipv4}/24`);
    await addAddress(end.ns, end.ifname, `${end.ipv6}/64`);
    await ip(["-n", end.ns.name, "link", "set", end.ifname, "up"]);
  }
  return link;
}
