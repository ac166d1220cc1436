import { canonicalDeviceIp, canonicalIp } from "../core/address.ts";
import { ConfigError } from "../core/errors.ts";
import { parseHostPort } from "./address.ts";
import { echo, mark, redactEchoes, withSecretsScrubbed } from "./redaction.ts";
import { rawValuesOf, syntaxErrorLine, TomlLines } from "./toml-lines.ts";
import { parseTomlInSlices } from "./toml-slices.ts";
import type {
  AccountConfig,
  BmpStationConfig,
  CollectorConfig,
  DeviceConfig,
  DeviceTarget,
  MrtDumpConfig,
} from "./types.ts";

/**
 * The gateway's TOML file: who may connect ([[account]]), the built-in collector
 * ([collector]) and the known routers ([[device]]). Exactly these keys; anything else is
 * an error that names the key path and its line, e.g.
 *   gateway.toml:14: device[2].target must be "collector" or "forward", got "foo"
 * Array-of-tables entries are counted from 1, in file order. MD5 keys never appear in
 * errors.
 */
export interface GatewayFile {
  readonly accounts: readonly AccountConfig[];
  readonly collector: CollectorConfig;
  readonly devices: readonly DeviceConfig[];
  readonly mrt?: MrtDumpConfig;
  readonly bmp: readonly BmpStationConfig[];
}

export interface GatewayFileOptions {
  /** Standalone replaces the accounts with its own, so it may have none. */
  readonly requireAccount: boolean;
}

type Table = Record<string, unknown>;

const MAX_UINT32 = 4294967295;
const ROOT_KEYS = ["account", "collector", "device", "mrt", "bmp"];
const MRT_KEYS = ["dir", "interval", "keep"];
const BMP_KEYS = ["address", "buffer_bytes"];
const ACCOUNT_KEYS = ["email", "token_sha256", "company_id"];
const COLLECTOR_KEYS = ["asn", "router_id", "hold_time"];
const DEVICE_KEYS = [
  "name",
  "id",
  "site",
  "ip",
  "md5_key",
  "target",
  "forward",
  "forward_source",
  "observe",
];

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && v.constructor === Object;
}

/** A value as an error shows it. */
function describe(v: unknown): string {
  if (typeof v === "string") return echo(v, 80);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "an array";
  if (isTable(v)) return "a table";
  return "a date/time";
}

/** Reads one file's tables, blaming errors on a key path and its line. */
class FileReader {
  private linesMemo: TomlLines | undefined;
  /** The md5_key values met so far, valid or not: kept out of errors. */
  readonly md5Keys: string[] = [];

  constructor(
    private readonly fileName: string,
    private readonly text: string,
  ) {}

  /** Made only when an error needs a line number: a big valid file never pays for it. */
  private get lines(): TomlLines {
    this.linesMemo ??= new TomlLines(this.text);
    return this.linesMemo;
  }

  /** `shown`: the path as the error shows it (an unknown key name marked as echoed). */
  fail(path: string, message: string, shown = path): never {
    const line = this.lines.lineOf(path);
    const where = line === undefined ? this.fileName : `${this.fileName}:${line}`;
    throw new ConfigError(`${where}: ${shown} ${message}`);
  }

  /** Re-throws a ConfigError from a value parser with this file's location in front. */
  at<T>(path: string, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const line = this.lines.lineOf(path);
      throw new ConfigError(
        `${this.fileName}${line === undefined ? "" : `:${line}`}: ${err.marked}`,
      );
    }
  }

  known(table: Table, path: string, keys: readonly string[]): void {
    for (const key of Object.keys(table)) {
      if (!keys.includes(key)) {
        const at = path === "" ? key : `${path}.${key}`;
        const shown = path === "" ? mark(key) : `${path}.${mark(key)}`;
        this.fail(at, `is not a known key (expected one of: ${keys.join(", ")})`, shown);
      }
    }
  }

  tables(root: Table, key: string): { table: Table; path: string }[] {
    const v = root[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, `must be an array of tables ([[${key}]])`);
    return v.map((table, i) => {
      const path = `${key}[${i + 1}]`;
      if (!isTable(table)) this.fail(path, `must be a table, got ${describe(table)}`);
      return { table, path };
    });
  }

  str(t: Table, path: string, key: string, required: boolean): string | undefined {
    const v = t[key];
    if (v === undefined) {
      if (required) this.fail(`${path}.${key}`, "is required");
      return undefined;
    }
    if (typeof v !== "string") this.fail(`${path}.${key}`, `must be a string, got ${describe(v)}`);
    if (v === "") this.fail(`${path}.${key}`, "must not be empty");
    return v;
  }

  int(t: Table, path: string, key: string, min: number, max: number, dflt?: number): number {
    const v = t[key];
    if (v === undefined) {
      if (dflt === undefined) this.fail(`${path}.${key}`, "is required");
      return dflt;
    }
    if (typeof v !== "number" || !Number.isInteger(v)) {
      this.fail(`${path}.${key}`, `must be an integer, got ${describe(v)}`);
    }
    if (v < min || v > max) {
      this.fail(`${path}.${key}`, `must be an integer from ${min} to ${max}, got ${v}`);
    }
    return v;
  }
}

function account(r: FileReader, t: Table, path: string): AccountConfig {
  r.known(t, path, ACCOUNT_KEYS);
  const email = r.str(t, path, "email", true) ?? "";
  if (!/^[\x21-\x7e]+$/.test(email)) {
    r.fail(`${path}.email`, `must be printable ASCII without spaces, got ${describe(email)}`);
  }
  const hash = r.str(t, path, "token_sha256", true) ?? "";
  if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
    r.fail(
      `${path}.token_sha256`,
      'must be 64 hex characters: the SHA-256 of the API token (printf %s "$TOKEN" | sha256sum)',
    );
  }
  const companyId = r.int(t, path, "company_id", 1, MAX_UINT32, 1);
  return { email, tokenSha256: hash.toLowerCase(), companyId };
}

function collector(r: FileReader, root: Table): CollectorConfig {
  const t = root.collector;
  if (t === undefined) r.fail("collector", "is required: add a [collector] table");
  if (!isTable(t)) r.fail("collector", "must be a table ([collector])");
  r.known(t, "collector", COLLECTOR_KEYS);
  const asn = r.int(t, "collector", "asn", 1, MAX_UINT32);
  const routerId = r.str(t, "collector", "router_id", true) ?? "";
  if (canonicalIp(routerId)?.includes(".") !== true || routerId === "0.0.0.0") {
    r.fail(
      "collector.router_id",
      `must be an IPv4 address other than 0.0.0.0, got ${describe(routerId)}`,
    );
  }
  const holdTime = r.int(t, "collector", "hold_time", 0, 65535, 90);
  if (holdTime === 1 || holdTime === 2) {
    r.fail("collector.hold_time", `must be 0 or from 3 to 65535, got ${holdTime}`);
  }
  return { asn, routerId, holdTime };
}

function mrt(r: FileReader, root: Table): MrtDumpConfig | undefined {
  const t = root.mrt;
  if (t === undefined) return undefined;
  if (!isTable(t)) r.fail("mrt", "must be a table ([mrt])");
  r.known(t, "mrt", MRT_KEYS);
  return {
    dir: r.str(t, "mrt", "dir", true) ?? "",
    intervalSeconds: r.int(t, "mrt", "interval", 10, 86400, 300),
    keep: r.int(t, "mrt", "keep", 1, 100000, 24),
  };
}

function bmpStation(r: FileReader, t: Table, path: string): BmpStationConfig {
  r.known(t, path, BMP_KEYS);
  const text = r.str(t, path, "address", true) ?? "";
  const address = r.at(`${path}.address`, () =>
    parseHostPort(text, `${path}.address`, {
      hosts: "any",
      portZero: false,
      example: "192.0.2.9:1790",
    }),
  );
  const bufferBytes = r.int(t, path, "buffer_bytes", 65536, 1 << 30, 16 << 20);
  return { address, bufferBytes };
}

function deviceTarget(r: FileReader, t: Table, path: string): DeviceTarget {
  const kind = r.str(t, path, "target", true);
  const forward = r.str(t, path, "forward", false);
  const source = r.str(t, path, "forward_source", false);
  const observe = t.observe;
  if (observe !== undefined && typeof observe !== "boolean") {
    r.fail(`${path}.observe`, `must be true or false, got ${describe(observe)}`);
  }
  if (kind === "collector") {
    if (observe !== undefined) r.fail(`${path}.observe`, 'is only allowed with target = "forward"');
    if (forward !== undefined) r.fail(`${path}.forward`, 'is only allowed with target = "forward"');
    if (source !== undefined) {
      r.fail(`${path}.forward_source`, 'is only allowed with target = "forward"');
    }
    return { kind: "collector" };
  }
  if (kind !== "forward") {
    r.fail(`${path}.target`, `must be "collector" or "forward", got ${describe(kind)}`);
  }
  if (forward === undefined) r.fail(`${path}.forward`, 'is required with target = "forward"');
  const address = r.at(`${path}.forward`, () =>
    parseHostPort(forward, `${path}.forward`, {
      hosts: "any",
      portZero: false,
      example: "192.0.2.1:179",
    }),
  );
  const quiet = observe === false ? { observe: false } : {};
  if (source === undefined) return { kind: "forward", forward: address, ...quiet };
  const sourceIp = canonicalIp(source);
  if (sourceIp === undefined) {
    r.fail(`${path}.forward_source`, `must be an IP address, got ${describe(source)}`);
  }
  return { kind: "forward", forward: address, source: sourceIp, ...quiet };
}

function device(r: FileReader, t: Table, path: string): DeviceConfig {
  r.known(t, path, DEVICE_KEYS);
  const name = r.str(t, path, "name", true) ?? "";
  const id = r.int(t, path, "id", 0, MAX_UINT32);
  const site = r.int(t, path, "site", 0, MAX_UINT32, 0);
  const ipText = r.str(t, path, "ip", true) ?? "";
  const ip = canonicalDeviceIp(ipText);
  if (ip === undefined) {
    r.fail(`${path}.ip`, `must be an IPv4 or IPv6 address (no brackets), got ${describe(ipText)}`);
  }
  const key = t.md5_key;
  if (typeof key === "string") r.md5Keys.push(key);
  const md5Key = r.str(t, path, "md5_key", false);
  if (md5Key !== undefined && Buffer.byteLength(md5Key) > 80) {
    r.fail(`${path}.md5_key`, `must be 1 to 80 bytes long, got ${Buffer.byteLength(md5Key)}`);
  }
  const target = deviceTarget(r, t, path);
  return { name, id, site, ip, ...(md5Key === undefined ? {} : { md5Key }), target };
}

/** Fails on the first entry whose `key` an earlier entry already has: one pass, one map. */
function firstRepeat<T>(items: readonly T[], key: (item: T) => string | number) {
  const seen = new Map<string | number, number>();
  for (let i = 0; i < items.length; i++) {
    const k = key(items[i] as T);
    const first = seen.get(k);
    if (first !== undefined) return { first, again: i };
    seen.set(k, i);
  }
  return undefined;
}

function checkUnique(r: FileReader, devices: readonly DeviceConfig[], accounts: AccountConfig[]) {
  const repeats = [
    { field: "ip", at: firstRepeat(devices, (d) => `${d.site} ${d.ip}`) },
    { field: "id", at: firstRepeat(devices, (d) => d.id) },
    { field: "name", at: firstRepeat(devices, (d) => d.name) },
  ].filter((x) => x.at !== undefined);
  // Report the earliest repeated device, as a reader going down the file meets it.
  repeats.sort((a, b) => (a.at?.again ?? 0) - (b.at?.again ?? 0));
  const [repeat] = repeats;
  if (repeat?.at !== undefined) {
    const { first, again } = repeat.at;
    const d = devices[again] as DeviceConfig;
    const path = `device[${again + 1}].${repeat.field}`;
    if (repeat.field === "ip")
      r.fail(path, `${d.ip} in site ${d.site} is already device[${first + 1}]`);
    if (repeat.field === "id") r.fail(path, `${d.id} is already device[${first + 1}]'s id`);
    r.fail(path, `${echo(d.name, 80)} is already device[${first + 1}]'s name`);
  }
  const token = firstRepeat(accounts, (a) => a.tokenSha256);
  if (token !== undefined) {
    r.fail(
      `account[${token.again + 1}].token_sha256`,
      `is the same as account[${token.first + 1}]'s`,
    );
  }
}

/** The raw texts of md5_key values, and their lines, in a text that may not parse. */
function rawMd5Keys(text: string) {
  const values = rawValuesOf(text, "md5_key");
  const secrets = values.flatMap(({ raw }) => {
    const inner = /^("""|'''|"|')(.*?)(\1|$)/.exec(raw)?.[2];
    return inner === undefined || inner === "" ? [raw] : [raw, inner];
  });
  return { lines: new Set(values.map((v) => v.line)), secrets };
}

function parseToml(
  text: string,
  fileName: string,
  mapDevice: (entry: unknown, index: number) => unknown,
): unknown {
  const parses = (t: string) => {
    try {
      Bun.TOML.parse(t);
      return true;
    } catch {
      return false;
    }
  };
  try {
    return parseTomlInSlices(
      text,
      (t) => Bun.TOML.parse(t),
      "device",
      mapDevice,
      () => Bun.gc(false),
    );
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = (err instanceof Error ? err.message : String(err)).replace(
      /^TOML Parse error:\s*/,
      "",
    );
    const line = syntaxErrorLine(text, parses);
    const keys = rawMd5Keys(text);
    // On an md5_key's own line, the parser's words may hold any part of the key: drop them.
    const why = keys.lines.has(line)
      ? "in the value of md5_key (not shown: it is a secret; quote it)"
      : redactEchoes(mark(message), keys.secrets);
    throw new ConfigError(`${fileName}:${line}: TOML syntax error: ${why}`);
  }
}

/**
 * Parses and validates the gateway file's text. Pure: `fileName` is only used in errors.
 * Throws a one-line ConfigError "file:line: key.path problem".
 */
export function parseGatewayFile(
  text: string,
  fileName: string,
  options: GatewayFileOptions = { requireAccount: true },
): GatewayFile {
  const r = new FileReader(fileName, text);
  return withSecretsScrubbed(
    // As written (also in a file that does not parse), and as parsed (escapes undone).
    () => [...rawMd5Keys(text).secrets, ...r.md5Keys],
    () => {
      // Devices are checked as their slice of the file is parsed (see toml-slices.ts).
      const root = parseToml(text, fileName, (entry, index) => {
        const path = `device[${index + 1}]`;
        if (!isTable(entry)) return r.fail(path, `must be a table, got ${describe(entry)}`);
        return device(r, entry, path);
      });
      if (!isTable(root)) throw new ConfigError(`${fileName}: not a TOML document`);
      r.known(root, "", ROOT_KEYS);
      const accounts = r.tables(root, "account").map(({ table, path }) => account(r, table, path));
      if (options.requireAccount && accounts.length === 0) {
        r.fail("account", "is required: add at least one [[account]] with email and token_sha256");
      }
      const coll = collector(r, root);
      const devices = root.device === undefined ? [] : (root.device as DeviceConfig[]);
      if (!Array.isArray(devices)) r.fail("device", "must be an array of tables ([[device]])");
      checkUnique(r, devices, accounts);
      const dumps = mrt(r, root);
      const bmp = r.tables(root, "bmp").map(({ table, path }) => bmpStation(r, table, path));
      return { accounts, collector: coll, devices, bmp, ...(dumps ? { mrt: dumps } : {}) };
    },
  );
}
