/** Router listeners: IPv4 and IPv6 wildcards on one port (the IPv6 one is v6-only), bind errors. */
import { afterEach, describe, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { agentConfig, testLogger } from "../support/stack.ts";

let agent: RunningAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === "object" && address ? address.port : 0;
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("router listeners", () => {
  test("0.0.0.0 and [::] bind the same port, and both accept", async () => {
    const port = await freePort();
    agent = await startAgent(
      agentConfig(1, {
        listen: [
          { host: "0.0.0.0", port },
          { host: "::", port },
        ],
      }),
      testLogger(),
    );
    expect(agent.listening.map((l) => l.port)).toEqual([port, port]);
    expect(await connects("127.0.0.1", port)).toBe(true);
    expect(await connects("::1", port)).toBe(true);
  });

  test("a port already taken is a clear error naming the address", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const address = holder.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      await expect(
        startAgent(agentConfig(1, { listen: [{ host: "127.0.0.1", port }] }), testLogger()),
      ).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      holder.close();
    }
  });
});
