import * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../config/types.ts";
import { backgroundClock, type Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { RepeatedLog } from "../core/repeated-log.ts";
import { ControlAction, type ControlRequest, type ControlResponse } from "../proto/messages.ts";
import { backendPinMetadata } from "../proto/metadata.ts";
import { admitAgentCall } from "./agent-call.ts";
import type { AgentDirectory } from "./agent-directory.ts";
import type { DeviceResolver } from "./device-resolver.ts";
import { LoginGuard } from "./login-guard.ts";

/**
 * The gateway's side of the Control stream: answers each ControlRequest with the device's
 * parameters (id, name, company, MD5 key), or BLOCK_IP for an unknown (site, address), and
 * echoes keepalives.
 */
export const BLOCK_TTL_SECONDS = 1200;
/** How long an agent may reuse a "proceed" answer for the same device and listener. */
export const PROCEED_TTL_SECONDS = 60;

export interface ControlServiceDeps {
  resolver: DeviceResolver;
  agents: AgentDirectory;
  logger: Logger;
  accounts: readonly AccountConfig[];
  /** Shared by the gateway's services; made here when absent (tests). */
  logins?: LoginGuard;
  clock?: Clock;
  /** This gateway's name, sent as `backend-pin` with every "proceed" answer. */
  name?: string;
  /**
   * Live Control calls, for the gateway's stop: a Control stream lasts as long as its
   * agent, so grpc-js's graceful shutdown would wait for them until forced.
   */
  calls?: Set<{ end(): void }>;
}

/**
 * The answer to one ControlRequest (pure). A "proceed" answer carries `backend-pin: <pin>`
 * when the gateway has a name, so the session's Data streams can be routed back to it.
 */
export function controlAnswer(
  request: ControlRequest,
  device: { id: number; name: string; md5Key?: string } | undefined,
  companyId: number,
  pin?: string,
): ControlResponse {
  const base = {
    proto: request.proto,
    deviceIp: request.deviceIp,
    devicePort: request.devicePort,
    proxyIp: request.proxyIp,
    proxyPort: request.proxyPort,
    metadata: [],
    companyId: 0,
    deviceId: 0,
    deviceName: "",
    tcpMd5: new Uint8Array(0),
  };
  if (request.action === ControlAction.KEEPALIVE) {
    return { ...base, ttlSeconds: 0, ttlCounter: 0, action: ControlAction.KEEPALIVE };
  }
  if (!device) {
    return {
      ...base,
      ttlSeconds: BLOCK_TTL_SECONDS,
      ttlCounter: 0,
      action: ControlAction.BLOCK_IP,
    };
  }
  return {
    ...base,
    ttlSeconds: PROCEED_TTL_SECONDS,
    ttlCounter: 0,
    action: ControlAction.UNSPECIFIED,
    metadata: pin === undefined ? [] : backendPinMetadata(pin),
    companyId,
    deviceId: device.id,
    deviceName: device.name,
    tcpMd5: device.md5Key ? Buffer.from(device.md5Key, "utf8") : new Uint8Array(0),
  };
}

export function controlService(
  deps: ControlServiceDeps,
): grpc.handleBidiStreamingCall<ControlRequest, ControlResponse> {
  const logins = deps.logins ?? new LoginGuard(deps.accounts, deps.logger, backgroundClock);
  // Many agents, or many connections behind one, may ask about the same unknown device.
  const blocked = new RepeatedLog(
    deps.logger.child({ component: "gateway/control" }),
    deps.clock ?? backgroundClock,
  );
  return (call) => {
    const log = deps.logger.child({ component: "gateway/control" });
    const agent = admitAgentCall(call, logins);
    if (!agent) return;
    const entry = deps.agents.connected(agent);
    deps.calls?.add(call);
    call.sendMetadata(new grpc.Metadata());
    log.info("agent connected", {
      instance: agent.instance,
      version: agent.version,
      peer: agent.peer,
    });
    call.on("data", (request: ControlRequest) => {
      entry.heard();
      if (request.action === ControlAction.KEEPALIVE) {
        call.write(controlAnswer(request, undefined, 0));
        return;
      }
      const device = deps.resolver.resolve(agent.site, request.deviceIp);
      if (!device) {
        blocked.warn(`${agent.site}|${request.deviceIp}`, "blocked an unknown device", {
          device_ip: request.deviceIp,
          site: agent.site,
          ttl_seconds: BLOCK_TTL_SECONDS,
          instance: agent.instance,
        });
      }
      call.write(
        controlAnswer(
          request,
          device && {
            id: device.config.id,
            name: device.config.name,
            md5Key: device.config.md5Key,
          },
          agent.account.companyId,
          deps.name,
        ),
      );
    });
    const done = () => {
      deps.calls?.delete(call);
      if (deps.agents.disconnected(entry)) {
        log.info("agent disconnected", { instance: agent.instance, peer: agent.peer });
      }
    };
    call.on("end", () => {
      done();
      call.end();
    });
    call.on("error", done);
    call.on("close", done);
  };
}
