/**
 * The typed config's `lowerBackgroundThreads` (`--disable-thread-lowering`) decides whether a
 * started agent or gateway runs the process's background-thread lowering
 * (src/core/process-background-threads.ts): off leaves it stopped, on starts it for as long
 * as the role runs.
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import { processBackgroundThreads } from "../../src/core/process-background-threads.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { agentConfig, gatewayConfig, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";

const cleanups = cleanupsAfterEach();

/** A gateway and an agent dialling it, both with `lowerBackgroundThreads` as given. */
async function roles(lowerBackgroundThreads: boolean) {
  const gateway = await startGateway(gatewayConfig({ lowerBackgroundThreads }), testLogger());
  cleanups.push(() => gateway.close());
  const agent = await startAgent(
    agentConfig(gateway.port, { lowerBackgroundThreads }),
    testLogger(),
  );
  cleanups.push(() => agent.close());
  return { gateway, agent };
}

describe("the background-thread lowering follows the config", () => {
  test("off (--disable-thread-lowering): agent and gateway leave it stopped", async () => {
    expect(processBackgroundThreads.running).toBeUndefined(); // no other role in this process
    await roles(false);
    expect(processBackgroundThreads.running).toBeUndefined();
    // A role with it on, beside them, starts it, and stops it alone: the two never joined
    // (and the lowering exists: with it gone this fails too).
    const on = await startGateway(gatewayConfig({ lowerBackgroundThreads: true }), testLogger());
    cleanups.push(() => on.close());
    expect(processBackgroundThreads.running).toBeDefined();
    await on.close();
    expect(processBackgroundThreads.running).toBeUndefined();
  });

  test("on (the default): running while the roles run, stopped once both closed", async () => {
    expect(processBackgroundThreads.running).toBeUndefined();
    const { gateway, agent } = await roles(true);
    expect(processBackgroundThreads.running).toBeDefined();
    await agent.close();
    expect(processBackgroundThreads.running).toBeDefined(); // the gateway still wants it
    await gateway.close();
    expect(processBackgroundThreads.running).toBeUndefined();
  });
});
