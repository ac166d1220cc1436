import { canonicalDeviceIp, hostPort } from "../../core/address.ts";
import { REDACTED } from "../../core/logger.ts";
import { rfc3339Nano } from "../../core/timestamp.ts";
import { isBridgingState } from "../bridge/bridge-state.ts";
import type { SessionSnapshot } from "../session-snapshot.ts";
import type { HealthReport } from "./agent-health.ts";
import type { AgentConfigView, AgentStatus } from "./agent-snapshot.ts";

/**
 * The agent's status API, with the reference product's JSON field names and shapes (pure
 * renderers; the handler only reads a snapshot). Times are RFC 3339 with nanoseconds;
 * a heartbeat that never happened is `null`, and so is its age. Secrets never appear: the
 * e-mail is shown, the token never, and server metadata keys that look secret are masked.
 */
export interface HealthView {
  timestamp: string;
  status: HealthReport["status"];
}

export interface AdminStatusView {
  InstanceID: string;
  ControlStream: { Connected: boolean; Since: string; DurationMs: number; MessagesRx: number };
  Heartbeats: {
    LastTx: string | null;
    MsSinceLastTx: number | null;
    LastTxRTTMs: number | null;
    LastRx: string | null;
    MsSinceLastRx: number | null;
  };
  ActiveSessions: number;
  Config: {
    Listeners: string[];
    MD5Enabled: boolean;
    MD5Interface: string;
    ProxyTarget: string;
    APIEmail: string;
    SiteID: number;
  };
  /** Ours, present with --enable-md5-support: keys learned, TCP-AO, the kernel's counters. */
  TCPMD5?: {
    KeysInstalled: number;
    TCPAO: string;
    KernelCounters: Record<string, number> | null;
  };
}

export interface SessionSummaryView {
  Peer: string;
  Time: string;
  DurationMs: number;
  Connected: boolean;
  /** Only with bridging on: the agent keeps the session up while its far end is gone. */
  Bridging?: boolean;
}

export interface SessionsView {
  NumSessions: number;
  Sessions: SessionSummaryView[];
}

export interface SessionDetailView {
  Peer: string;
  ConnectedSince: string;
  ConnectedDurationMs: number;
  SessionID: string;
  ServerMetadata: Record<string, string[]>;
  /** Only with bridging on (docs/resilience.md). */
  Bridge?: {
    State: string;
    Bridged: number;
    Resumed: number;
    RouteRefreshesSent: number;
    RouterUpdatesDropped: number;
    RouterBytesDropped: number;
    StallsCovered: number;
  };
  /** Ours: new Data streams the session was re-attached to (resume, or after a RESTART). */
  Reattached?: number;
}

const SECRET_KEY = /token|password|passwd|secret|md5|authorization|cookie/i;

function elapsed(now: number, since: number): number {
  return Math.max(0, Math.round(now - since));
}

export function renderHealth(report: HealthReport): HealthView {
  return { timestamp: rfc3339Nano(report.timestamp), status: report.status };
}

export function renderAdminStatus(
  status: AgentStatus,
  config: AgentConfigView,
  now: number,
): AdminStatusView {
  const c = status.control;
  return {
    InstanceID: status.instance,
    ControlStream: {
      Connected: c.connected,
      Since: rfc3339Nano(c.since),
      DurationMs: elapsed(now, c.since),
      MessagesRx: c.messagesRx,
    },
    Heartbeats: {
      LastTx: c.lastTx === undefined ? null : rfc3339Nano(c.lastTx),
      MsSinceLastTx: c.lastTx === undefined ? null : elapsed(now, c.lastTx),
      LastTxRTTMs: c.lastRttMs === undefined ? null : Math.round(c.lastRttMs),
      LastRx: c.lastRx === undefined ? null : rfc3339Nano(c.lastRx),
      MsSinceLastRx: c.lastRx === undefined ? null : elapsed(now, c.lastRx),
    },
    ActiveSessions: status.sessions.length,
    Config: {
      Listeners: [...status.listeners],
      MD5Enabled: status.md5?.enabled ?? config.md5Enabled,
      MD5Interface: status.md5?.interface ?? config.md5Interface,
      ProxyTarget: config.proxyTarget,
      APIEmail: config.apiEmail,
      SiteID: config.siteId,
    },
    ...(status.md5?.enabled
      ? {
          TCPMD5: {
            KeysInstalled: status.md5.keysInstalled ?? 0,
            TCPAO: status.md5.tcpAo ?? "not probed",
            KernelCounters: status.md5.kernelCounters ? { ...status.md5.kernelCounters } : null,
          },
        }
      : {}),
  };
}

function peer(s: SessionSnapshot): string {
  return hostPort(s.tuple.deviceIp, s.tuple.devicePort);
}

export function renderSessions(sessions: readonly SessionSnapshot[], now: number): SessionsView {
  return {
    NumSessions: sessions.length,
    Sessions: sessions.map((s) => ({
      Peer: peer(s),
      Time: rfc3339Nano(s.connectedSince),
      DurationMs: elapsed(now, s.connectedSince),
      Connected: s.state === "relaying",
      ...(s.bridge ? { Bridging: isBridgingState(s.bridge.state) } : {}),
    })),
  };
}

/** The gateway's response headers, with secret-looking keys masked. */
export function safeMetadata(md: Readonly<Record<string, readonly string[]>> | undefined) {
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(md ?? {}).sort()) {
    out[key] = SECRET_KEY.test(key) ? [REDACTED] : [...(md?.[key] ?? [])];
  }
  return out;
}

export function renderSession(s: SessionSnapshot, now: number): SessionDetailView {
  return {
    Peer: peer(s),
    ConnectedSince: rfc3339Nano(s.connectedSince),
    ConnectedDurationMs: elapsed(now, s.connectedSince),
    SessionID: s.sessionId,
    ServerMetadata: safeMetadata(s.serverMetadata),
    ...(s.bridge
      ? {
          Bridge: {
            State: s.bridge.state,
            Bridged: s.bridge.bridged,
            Resumed: s.bridge.resumed,
            RouteRefreshesSent: s.bridge.routeRefreshesSent,
            RouterUpdatesDropped: s.bridge.routerUpdatesDropped,
            RouterBytesDropped: s.bridge.routerBytesDropped,
            StallsCovered: s.bridge.stallsCovered,
          },
        }
      : {}),
    ...(s.resumes ? { Reattached: s.resumes } : {}),
  };
}

export type SessionLookup =
  | { kind: "found"; session: SessionSnapshot }
  | { kind: "none"; ip: string }
  | { kind: "invalid"; text: string };

/**
 * `/admin/sessions/<device ip>`: the device's session (its newest, if it has several).
 * `<ip>:<port>` or `[<ipv6>]:<port>` picks one connection. Pure.
 */
export function findSession(sessions: readonly SessionSnapshot[], key: string): SessionLookup {
  const text = key.trim();
  let ipText = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4port = /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (bracketed) {
    ipText = bracketed[1] ?? "";
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if (v4port) {
    ipText = v4port[1] ?? "";
    port = Number(v4port[2]);
  }
  const ip = canonicalDeviceIp(ipText);
  if (ip === undefined) return { kind: "invalid", text };
  const matches = sessions.filter(
    (s) => s.tuple.deviceIp === ip && (port === undefined || s.tuple.devicePort === port),
  );
  const newest = matches.reduce<SessionSnapshot | undefined>(
    (best, s) => (best === undefined || s.connectedSince >= best.connectedSince ? s : best),
    undefined,
  );
  return newest ? { kind: "found", session: newest } : { kind: "none", ip };
}
