/**
 * The native layer against the real kernel (root only; loopback only): TCP-MD5 keys on a
 * listening socket, the probes, and the SYN capture socket with its BPF filter and
 * signal-driven readiness. Capability failures are checked in child processes whose bounding
 * set lacks the capability (setpriv).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { gunzipSync } from "node:zlib";
import { synFilter } from "../../native/bpf.ts";
import { PacketSocket } from "../../native/packet-socket.ts";
import { deleteTcpMd5Key, probeTcpAo, probeTcpMd5, setTcpMd5Key } from "../../native/tcp-md5.ts";
import { parseSynPacket } from "../../src/agent/md5/syn-packet.ts";
import { md5KeyPeersOf } from "../support/md5-topology.ts";
import { isRoot } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const note = isRoot ? "" : " [skipped: not running as root]";
const ROOT_DIR = new URL("../..", import.meta.url).pathname;

function listen(host: string): Promise<{ server: Server; port: number; fd: number }> {
  const server = createServer((s) => s.destroy());
  return new Promise((resolve) =>
    server.listen({ host, port: 0, ipv6Only: host.includes(":") }, () => {
      const a = server.address();
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      resolve({ server, port: a && typeof a === "object" ? a.port : 0, fd });
    }),
  );
}

async function keyPeers(port: number): Promise<string[]> {
  const r = Bun.spawnSync(["ss", "-tniH", "state", "listening", "sport", "=", `:${port}`]);
  return md5KeyPeersOf(r.stdout.toString());
}

/** Run `code` (TypeScript, may import the repository by absolute path) without capability `cap`. */
function withoutCapability(cap: string, code: string): { code: number; out: string } {
  const r = Bun.spawnSync(
    ["setpriv", `--bounding-set=-${cap}`, "--", process.execPath, "-e", code],
    { cwd: ROOT_DIR, stdout: "pipe", stderr: "pipe" },
  );
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr}`.trim() };
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe.skipIf(!isRoot)(`native TCP-MD5 and SYN capture on this kernel${note}`, () => {
  test("the TCP-MD5 probe passes; the TCP-AO probe agrees with the kernel config", () => {
    expect(() => probeTcpMd5()).not.toThrow();
    const ao = probeTcpAo();
    let config = "";
    try {
      config = gunzipSync(readFileSync("/proc/config.gz")).toString();
    } catch {
      // no /proc/config.gz: only the shape can be checked
    }
    if (config.includes("CONFIG_TCP_AO=y")) expect(ao).toBe("available");
    else if (config !== "") expect(ao).toBe("unavailable on this kernel");
    else expect(["available", "unavailable on this kernel"]).toContain(ao);
  });

  test("keys are set, replaced and deleted on a listening socket (IPv4 and IPv6)", async () => {
    const v4 = await listen("127.0.0.1");
    const v6 = await listen("::1");
    cleanup.push(
      () => v4.server.close(),
      () => v6.server.close(),
    );
    const key = new TextEncoder().encode("component-key");
    setTcpMd5Key(v4.fd, { peer: "127.0.0.5", key });
    setTcpMd5Key(v4.fd, { peer: "127.0.0.6", key });
    setTcpMd5Key(v4.fd, { peer: "127.0.0.6", key: new TextEncoder().encode("replaced") });
    setTcpMd5Key(v6.fd, { peer: "fd00::5", key });
    expect(await keyPeers(v4.port)).toEqual(["127.0.0.5", "127.0.0.6"]);
    expect(await keyPeers(v6.port)).toEqual(["fd00::5"]);
    deleteTcpMd5Key(v4.fd, { peer: "127.0.0.5" });
    deleteTcpMd5Key(v4.fd, { peer: "127.0.0.99" }); // not there: not an error
    expect(await keyPeers(v4.port)).toEqual(["127.0.0.6"]);
    // An IPv4 key on an IPv6-only socket is refused by the kernel: a typed error, no key.
    expect(() => setTcpMd5Key(v6.fd, { peer: "127.0.0.7", key })).toThrow(
      /TCP_MD5SIG for 127.0.0.7: E/,
    );
    expect(() => setTcpMd5Key(v4.fd, { peer: "127.0.0.8", key: new Uint8Array(81) })).toThrow(
      RangeError,
    );
  });

  test("the capture socket sees a SYN to its port on lo, once, and signals it without polling", async () => {
    const target = await listen("127.0.0.1");
    cleanup.push(() => target.server.close());
    const capture = PacketSocket.open();
    cleanup.push(() => capture.close());
    const buffer = capture.setReceiveBuffer(4 * 1024 * 1024);
    expect(buffer.effectiveBytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(buffer.forced).toBe(true);
    capture.attachFilter(synFilter([target.port]));
    capture.bind("lo");
    let signals = 0;
    capture.watch(() => {
      signals++;
    });
    const client: Socket = connect({ host: "127.0.0.1", port: target.port });
    cleanup.push(() => client.destroy());
    await waitUntil(() => signals > 0, { timeoutMs: 3000, what: "SIGIO for the SYN" });
    const buf = new Uint8Array(256);
    const got: Uint8Array[] = [];
    for (let n = capture.receive(buf); n !== undefined; n = capture.receive(buf)) {
      got.push(buf.slice(0, n));
    }
    // The SYN only: not its outgoing copy on lo, not the SYN-ACK, not the ACK.
    expect(got).toHaveLength(1);
    const parsed = parseSynPacket(got[0] ?? new Uint8Array(0));
    expect(parsed).toMatchObject({
      ok: true,
      syn: {
        family: 4,
        source: "127.0.0.1",
        destination: "127.0.0.1",
        destinationPort: target.port,
        md5: false,
      },
    });
    expect(capture.statistics()).toEqual({ packets: 1, drops: 0 });
  });

  test("a packet socket that is not bound yet receives nothing", async () => {
    const target = await listen("127.0.0.1");
    cleanup.push(() => target.server.close());
    const capture = PacketSocket.open();
    cleanup.push(() => capture.close());
    const client = connect({ host: "127.0.0.1", port: target.port });
    cleanup.push(() => client.destroy());
    await new Promise((r) => client.once("connect", r));
    expect(capture.receive(new Uint8Array(256))).toBeUndefined();
  });

  test("without CAP_NET_RAW the capture socket is refused with a message naming it", () => {
    const r = withoutCapability(
      "net_raw",
      `import { PacketSocket } from "${ROOT_DIR}native/packet-socket.ts";
       try { PacketSocket.open(); console.log("opened"); } catch (e) { console.log(e.kind, e.message); }`,
    );
    expect(r.out).toMatch(/^unsupported missing CAP_NET_RAW/);
  });

  test("without CAP_NET_ADMIN a buffer beyond net.core.rmem_max is refused with a message naming it", () => {
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    const want = rmemMax * 2 + 1024 * 1024;
    const r = withoutCapability(
      "net_admin",
      `import { PacketSocket } from "${ROOT_DIR}native/packet-socket.ts";
       const s = PacketSocket.open();
       try { s.setReceiveBuffer(${want}); console.log("raised"); } catch (e) { console.log(e.kind, e.message); }`,
    );
    expect(r.out).toMatch(/^unsupported missing CAP_NET_ADMIN/);
    expect(r.out).toContain(`net.core.rmem_max to at least ${want}`);
  });

  test("without CAP_NET_ADMIN a smaller buffer is accepted down to the minimum (Docker's default capabilities)", () => {
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    const r = withoutCapability(
      "net_admin",
      `import { PacketSocket } from "${ROOT_DIR}native/packet-socket.ts";
       const s = PacketSocket.open();
       const b = s.setReceiveBuffer(${rmemMax * 4}, ${rmemMax});
       console.log(JSON.stringify(b));`,
    );
    // SO_RCVBUF is capped at rmem_max and the kernel reports twice that.
    expect(JSON.parse(r.out)).toEqual({ effectiveBytes: 2 * rmemMax, forced: false });
  });
});
