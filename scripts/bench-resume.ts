/**
 * The relay's cost of resume (replay buffers and acknowledgements): one session relays
 * `--mib` MiB from a router to a daemon through an in-process agent and gateway on
 * loopback (plaintext gRPC), with resume off and on, alternating, `--rounds` times each.
 * Prints the median MB/s of each and their ratio. Not a test: numbers only.
 *
 *   bun scripts/bench-resume.ts [--mib 256] [--rounds 3]
 */
import { connect } from "node:net";
import { startAgent } from "../src/agent/agent.ts";
import { silentLogger } from "../src/core/logger.ts";
import { startGateway } from "../src/gateway/gateway.ts";
import { DEFAULT_REPLAY_LIMIT_BYTES } from "../src/relay/replay-buffer.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../test/support/stack.ts";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const MIB = option("mib", 256);
const ROUNDS = option("rounds", 3);
const resume = { windowMs: 5_000, limitBytes: DEFAULT_REPLAY_LIMIT_BYTES };

async function once(withResume: boolean): Promise<number> {
  const total = MIB * 1024 * 1024;
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const daemon = await startDaemon((socket) => {
    socket.on("data", (d: Buffer) => {
      received += d.length;
      if (received >= total) done();
    });
    socket.on("error", () => {});
  });
  const gateway = await startGateway(
    gatewayConfig({
      devices: [forwardDevice("127.0.0.1", daemon.port)],
      ...(withResume ? { resume: { ...resume, windowMs: 30_000 } } : {}),
    }),
    silentLogger,
  );
  const agent = await startAgent(
    agentConfig(gateway.port, withResume ? { resume } : {}),
    silentLogger,
  );
  const router = connect({ host: "127.0.0.1", port: agent.listening[0]?.port ?? 0 });
  await new Promise((r) => router.once("connect", r));
  const block = Buffer.alloc(64 * 1024, 0xa5);
  const started = performance.now();
  for (let sent = 0; sent < total; sent += block.length) {
    if (!router.write(block)) await new Promise((r) => router.once("drain", r));
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  router.destroy();
  await agent.close();
  await gateway.close();
  daemon.server.close();
  return total / 1e6 / seconds;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
const off: number[] = [];
const on: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  off.push(await once(false));
  on.push(await once(true));
}
const fmt = (v: number[]) => v.map((x) => x.toFixed(0)).join(", ");
console.log(`bun scripts/bench-resume.ts --mib ${MIB} --rounds ${ROUNDS}`);
console.log(`resume off: median ${median(off).toFixed(0)} MB/s (${fmt(off)})`);
console.log(`resume on:  median ${median(on).toFixed(0)} MB/s (${fmt(on)})`);
console.log(`on/off: ${(median(on) / median(off)).toFixed(2)}`);
process.exit(0);
