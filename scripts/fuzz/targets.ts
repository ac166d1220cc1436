/**
 * What the fuzzer feeds: each target takes raw bytes, runs one pure decoder on them, and
 * lets only typed errors through (BgpProxyError and its kinds: a NOTIFICATION to send, a
 * protobuf decode error, a config error). Any other exception is a crash. Each target
 * also brings its seeds (golden vectors and hand-made malformed inputs) and a dictionary
 * of tokens for the mutator.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MessageType } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { decodeNotification, describeNotification } from "../../src/bgp/notification.ts";
import { decodeOpen } from "../../src/bgp/open.ts";
import { decodePathAttributes } from "../../src/bgp/route-attributes.ts";
import { decodeRouteRefresh } from "../../src/bgp/route-refresh.ts";
import {
  decodeUpdate,
  forEachAnnounced,
  forEachWithdrawn,
  updatePrefixes,
} from "../../src/bgp/update.ts";
import { BgpSpeaker } from "../../src/collector/bgp-speaker.ts";
import { parseGatewayFile } from "../../src/config/gateway-file.ts";
import type { Clock } from "../../src/core/clock.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/logger.ts";
import {
  decodeControlRequest,
  decodeControlResponse,
  decodeDataMessage,
  encodeControlRequest,
  encodeControlResponse,
  encodeDataMessage,
} from "../../src/proto/codec.ts";
import { ControlAction, DataAction } from "../../src/proto/messages.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BGP_FIXTURES = join(ROOT, "test", "fixtures", "bgp");

export interface FuzzTarget {
  readonly name: string;
  readonly seeds: () => Uint8Array[];
  readonly dictionary: readonly Uint8Array[];
  /** Runs the decoder; returns a short description of the outcome (for guidance). */
  readonly run: (input: Uint8Array) => string;
}

/** A crash: the input made the code under test do something other than a typed error. */
export class FuzzCrash extends Error {
  constructor(
    message: string,
    readonly original?: unknown,
  ) {
    super(message);
    this.name = "FuzzCrash";
  }
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/#[^\n]*/g, "").replace(/\s+/g, ""), "hex"));
}

function bgpFixtures(): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const f of readdirSync(BGP_FIXTURES)) {
    if (f.endsWith(".hex"))
      out.set(f.slice(0, -4), hex(readFileSync(join(BGP_FIXTURES, f), "utf8")));
  }
  return out;
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const text = (s: string) => new TextEncoder().encode(s);

/** Runs `fn`; a typed error is an outcome, anything else a crash. */
function guarded(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BgpProxyError) return `${err.kind}:${err.message.slice(0, 48)}`;
    throw new FuzzCrash(err instanceof Error ? `${err.name}: ${err.message}` : String(err), err);
  }
}

/** Every typed piece of an UPDATE body, decoded as a collector would. */
function decodeWholeUpdate(body: Uint8Array, fourOctetAs: boolean, addPath: boolean): string {
  const update = decodeUpdate(body, {
    fourOctetAs,
    addPath: { ipv4: addPath, ipv6: addPath },
    external: true,
  });
  decodePathAttributes(update);
  let n = 0;
  forEachAnnounced(update, () => {
    n++;
  });
  forEachWithdrawn(update, () => {
    n++;
  });
  const p = updatePrefixes(update);
  const problem = update.problems[0];
  const first = problem === undefined ? "" : JSON.stringify(problem).slice(0, 60);
  return `update:${update.problems.length}:${first}:${update.treatAsWithdraw}:${n > 0}:${p.announced.length > 0}`;
}

function decodeFrame(type: number, body: Uint8Array): string {
  switch (type) {
    case MessageType.OPEN: {
      const open = decodeOpen(body);
      return `open:${open.holdTime > 0}`;
    }
    case MessageType.UPDATE:
      return decodeWholeUpdate(body, true, false);
    case MessageType.NOTIFICATION:
      return `notification:${describeNotification(decodeNotification(body)).slice(0, 24)}`;
    case MessageType.ROUTE_REFRESH:
      decodeRouteRefresh(body);
      return "refresh";
    default:
      return `type:${type}`;
  }
}

const bgpMessage: FuzzTarget = {
  name: "bgp-message",
  seeds: () => [...bgpFixtures().values()],
  dictionary: [
    new Uint8Array(16).fill(0xff),
    bytes(0x00, 0x13, 0x04),
    bytes(0x00, 0x17, 0x02),
    bytes(0x02, 0x06, 0x41, 0x04), // capability: 4-octet AS
    bytes(0x40, 0x01, 0x01, 0x00), // ORIGIN IGP
    bytes(0x90, 0x0e), // MP_REACH, extended length
  ],
  run: (input) =>
    guarded(() => {
      const framer = new BgpFramer();
      const cut = input.length > 1 ? (input[0] as number) % input.length : 0;
      const frames = [...framer.push(input.subarray(0, cut)), ...framer.push(input.subarray(cut))];
      const outcomes = frames.slice(0, 3).map((f) => guarded(() => decodeFrame(f.type, f.body)));
      return `${frames.length > 3 ? "many" : frames.length}:${outcomes.join(",")}`;
    }),
};

const bgpUpdate: FuzzTarget = {
  name: "bgp-update",
  seeds: () => {
    const out: Uint8Array[] = [];
    for (const [name, msg] of bgpFixtures())
      if (name.startsWith("update")) out.push(msg.subarray(19));
    // Hand-made malformed bodies: overrunning lengths, a bad prefix length, a truncated attribute.
    out.push(bytes(0x00, 0x05, 0x18, 0x0a, 0x00, 0x00, 0x00, 0x00));
    out.push(bytes(0x00, 0x00, 0x00, 0x04, 0x40, 0x01, 0x01, 0x00, 0x21, 0x0a));
    out.push(bytes(0x00, 0x00, 0x00, 0x07, 0x90, 0x0e, 0x00, 0x03, 0x00, 0x02, 0x01));
    out.push(bytes(0x00, 0x00, 0x00, 0x08, 0x40, 0x02, 0x05, 0x02, 0x03, 0x00, 0x01, 0x00));
    return out;
  },
  dictionary: [
    bytes(0x40, 0x01, 0x01, 0x00),
    bytes(0x40, 0x02, 0x00),
    bytes(0x40, 0x03, 0x04, 0x0a, 0x00, 0x00, 0x01),
    bytes(0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64),
    bytes(0x90, 0x0e, 0x00, 0x00),
    bytes(0x90, 0x0f, 0x00, 0x03, 0x00, 0x02, 0x01),
    bytes(0xc0, 0x08, 0x04, 0xfd, 0xe8, 0x00, 0x01),
    bytes(0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9),
    bytes(0x18, 0xc6, 0x33, 0x64),
    bytes(0x80),
  ],
  run: (input) => {
    // The first byte picks the session options, the rest is the UPDATE body.
    const flags = input[0] ?? 0;
    const body = input.subarray(1);
    return guarded(() => decodeWholeUpdate(body, (flags & 1) === 1, (flags & 2) === 2));
  },
};

const protoCodec: FuzzTarget = {
  name: "proto",
  seeds: () => {
    const tuple = {
      proto: "BGP",
      deviceIp: "192.0.2.1",
      devicePort: 40179,
      proxyIp: "198.51.100.1",
      proxyPort: 179,
    };
    const tag = (kind: number, b: Uint8Array) => {
      const out = new Uint8Array(b.length + 1);
      out[0] = kind;
      out.set(b, 1);
      return out;
    };
    return [
      tag(0, encodeControlRequest({ ...tuple, action: ControlAction.KEEPALIVE })),
      tag(
        1,
        encodeControlResponse({
          ...tuple,
          ttlSeconds: 60,
          ttlCounter: 3,
          action: ControlAction.UNSPECIFIED,
          metadata: [{ key: "k", val: ["v"] }],
          companyId: 7,
          deviceId: 1001,
          deviceName: "edge-1",
          tcpMd5: text("key"),
        }),
      ),
      tag(
        2,
        encodeDataMessage({
          action: DataAction.UNSPECIFIED,
          data: [encodeKeepalive(), bytes(1, 2)],
        }),
      ),
      tag(2, bytes(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f)),
      tag(1, bytes(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)),
    ];
  },
  dictionary: [
    bytes(0x0a),
    bytes(0x12),
    bytes(0x08),
    bytes(0xff, 0xff, 0xff, 0xff, 0x0f),
    bytes(0x80, 0x80),
  ],
  run: (input) => {
    const body = input.subarray(1);
    return guarded(() => {
      switch ((input[0] ?? 0) % 3) {
        case 0:
          return `req:${decodeControlRequest(body).action}`;
        case 1:
          return `resp:${decodeControlResponse(body).action}`;
        default:
          return `data:${decodeDataMessage(body).data.length > 0}`;
      }
    });
  },
};

/** A distinctive MD5 key in the TOML seeds: an error must never show it. */
export const FUZZ_SECRET = "Zq8SEKRITkey";

/** The secret is still an md5_key's value (mutations may have renamed the key). */
const SECRET_IS_MD5_KEY = new RegExp(`^[ \\t]*md5_key[ \\t]*=[^\\n]*${FUZZ_SECRET}`, "m");

/**
 * The secret's text also stands outside every md5_key line (a mutation copied it into, say,
 * `target`): an error may then quote that other field's value, which is no leak of the key
 * (the key itself, e.g. "Zq8SEKRITkey4294967296", is still never in the message).
 */
const secretElsewhere = (source: string): boolean =>
  source.replace(/^[ \t]*md5_key[ \t]*=[^\n]*$/gm, "").includes(FUZZ_SECRET);

const TOML_SEED = `[[account]]
email = "ops@example.net"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[collector]
asn = 64512
router_id = "192.0.2.1"
hold_time = 180

[[device]]
name = "edge-1"
id = 1001
ip = "10.0.0.1"
md5_key = "${FUZZ_SECRET}"
target = "collector"

[[device]]
name = "edge-2"
id = 1002
site = 7
ip = "2001:db8::2"
target = "forward"
forward = "[2001:db8::100]:179"
forward_source = "2001:db8::1"
`;

const tomlLoader: FuzzTarget = {
  name: "toml",
  seeds: () => [
    text(TOML_SEED),
    text(TOML_SEED.replace(`"${FUZZ_SECRET}"`, FUZZ_SECRET)),
    text(TOML_SEED.replace('target = "collector"', `target = "${FUZZ_SECRET}"`)),
    text(TOML_SEED.replace('name = "edge-2"', 'name = "edge-1"')),
    text(TOML_SEED.replace("[collector]", "[collector")),
  ],
  dictionary: [
    "[[device]]\n",
    "[[account]]\n",
    "[collector]\n",
    "md5_key = ",
    `"${FUZZ_SECRET}"`,
    '"""',
    "'''",
    " = ",
    "\n",
    "[device.x]\n",
    "device = []\n",
    "4294967296",
    '"::ffff:10.0.0.1"',
    "#",
  ].map(text),
  run: (input) => {
    const source = new TextDecoder().decode(input);
    return guarded(() => {
      try {
        const file = parseGatewayFile(source, "fuzz.toml");
        return `ok:${file.devices.length}`;
      } catch (err) {
        if (err instanceof BgpProxyError) {
          if (
            err.message.includes(FUZZ_SECRET) &&
            SECRET_IS_MD5_KEY.test(source) &&
            !secretElsewhere(source)
          ) {
            throw new FuzzCrash(`an md5_key was echoed: ${err.message}`);
          }
          if (err.message.includes("\n")) throw new FuzzCrash(`a multi-line error: ${err.message}`);
        }
        throw err;
      }
    });
  },
};

const silent: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  trace: () => {},
  child: () => silent,
};

/** A clock that never fires: the session's timers are not what is fuzzed. */
const stopped: Clock = { now: () => 0, schedule: () => ({ cancel: () => {} }) };

const bgpSession: FuzzTarget = {
  name: "bgp-session",
  seeds: () => {
    const f = bgpFixtures();
    const get = (n: string) => f.get(n) ?? new Uint8Array(0);
    const keepalive = get("keepalive");
    return [
      Uint8Array.from([
        ...get("open-as65001"),
        ...keepalive,
        ...get("update-ipv4-as4"),
        ...get("update-ipv6-linklocal"),
        ...get("update-withdraw"),
        ...get("update-eor-ipv4"),
        ...keepalive,
      ]),
      Uint8Array.from([
        ...get("open-as4200000000"),
        ...keepalive,
        ...get("notification-cease-shutdown"),
      ]),
    ];
  },
  dictionary: bgpMessage.dictionary,
  run: (input) => {
    let internal: string | undefined;
    let closed = "open";
    const logger: Logger = {
      ...silent,
      error: (msg, fields) => {
        internal = `${msg} ${JSON.stringify(fields ?? {})}`;
      },
    };
    const speaker = new BgpSpeaker({
      localAsn: 64512,
      routerId: "192.0.2.1",
      holdTime: 90,
      clock: stopped,
      logger,
      onSend: () => {},
      onClose: (reason) => {
        closed = `${reason.kind}:${reason.message.slice(0, 60)}`;
      },
    });
    // Fed in pieces, as TCP would deliver them.
    const step = 1 + ((input[0] ?? 0) % 97);
    try {
      for (let i = 0; i < input.length; i += step) speaker.receive(input.subarray(i, i + step));
    } catch (err) {
      throw new FuzzCrash(
        `receive threw: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
    if (internal !== undefined) throw new FuzzCrash(`speaker internal error: ${internal}`);
    const s = speaker.stats();
    return `${closed}:${s.prefixes.ipv4 > 0}:${s.prefixes.ipv6 > 0}`;
  },
};

export const TARGETS: readonly FuzzTarget[] = [
  bgpMessage,
  bgpUpdate,
  bgpSession,
  protoCodec,
  tomlLoader,
];
