import * as grpc from "@grpc/grpc-js";
import { Backoff } from "../core/backoff.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { BgpProxyError, errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { StateMachine } from "../core/state-machine.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
  type FiveTuple,
} from "../proto/messages.ts";
import type { ProxyClient } from "../proto/service.ts";

/**
 * The agent's one long-lived Control stream: asks the gateway about each router
 * connection, receives its pushes (blocks, refreshed parameters) and proves the path is
 * alive with application keepalives. A watchdog tears the stream down when nothing has
 * been heard for `timeoutMs`, and a supervisor redials with exponential backoff and
 * jitter; refused credentials back off much longer, never in a tight loop.
 */
export type ControlState = "idle" | "connecting" | "ready" | "backoff" | "closed";

const TRANSITIONS: Record<ControlState, readonly ControlState[]> = {
  idle: ["connecting", "closed"],
  connecting: ["ready", "backoff", "closed"],
  ready: ["backoff", "closed"],
  backoff: ["connecting", "closed"],
  closed: [],
};

/** How long a router connection may wait for the gateway's answer. */
export const CONTROL_REQUEST_TIMEOUT_MS = 15_000;
/** A router waiting while the stream is down redials at once, but not more often than this. */
export const MIN_REDIAL_MS = 1_000;
/** A stream up this long resets the backoff to its initial delay. */
const STABLE_AFTER_MS = 30_000;

export interface ControlChannelOptions {
  newClient: () => ProxyClient;
  /** Call metadata: credentials, site, version, instance. */
  metadata: () => grpc.Metadata;
  clock: Clock;
  logger: Logger;
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Unsolicited answers from the gateway (blocks, refreshed parameters). */
  onPush: (response: ControlResponse) => void;
  /** A keepalive answer arrived: its round trip in ms (for the RTT histogram). */
  onHeartbeat?: (rttMs: number) => void;
  backoff?: Backoff;
  authBackoff?: Backoff;
  requestTimeoutMs?: number;
}

export interface ControlStatus {
  state: ControlState;
  connected: boolean;
  /** When the stream entered its current state. */
  since: number;
  messagesRx: number;
  reconnects: number;
  lastTx?: number;
  lastRx?: number;
  lastRttMs?: number;
  lastError?: string;
}

interface Pending {
  request: ControlRequest;
  promise: Promise<ControlResponse>;
  resolve: (r: ControlResponse) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
}

export function tupleKey(t: FiveTuple): string {
  return `${t.proto}|${t.deviceIp}|${t.devicePort}|${t.proxyIp}|${t.proxyPort}`;
}

type ControlCall = grpc.ClientDuplexStream<ControlRequest, ControlResponse>;

export class ControlChannel {
  private readonly machine: StateMachine<ControlState>;
  private readonly backoff: Backoff;
  private readonly authBackoff: Backoff;
  private readonly pending = new Map<string, Pending>();
  private client?: ProxyClient;
  private call?: ControlCall;
  private heartbeatTimer?: TimerHandle;
  private retryTimer?: TimerHandle;
  private stableTimer?: TimerHandle;
  private keepaliveSentAt?: number;
  private connectedAt = 0;
  /** The credentials were refused: only the (long) auth backoff redials. */
  private authRefused = false;
  private messagesRx = 0;
  private reconnects = 0;
  private lastTx?: number;
  private lastRx?: number;
  private lastRttMs?: number;
  private lastError?: string;

  constructor(private readonly options: ControlChannelOptions) {
    this.machine = new StateMachine<ControlState>(
      "control stream",
      "idle",
      TRANSITIONS,
      options.logger,
      () => options.clock.now(),
    );
    this.backoff = options.backoff ?? new Backoff();
    this.authBackoff =
      options.authBackoff ??
      new Backoff({ initialMs: 30_000, maxMs: 600_000, multiplier: 2, jitter: 0.3 });
  }

  get state(): ControlState {
    return this.machine.state;
  }

  start(): void {
    if (this.machine.is("idle")) this.connect();
  }

  /** Ask the gateway about a connection; concurrent asks for the same 5-tuple share one request. */
  request(tuple: FiveTuple, action = ControlAction.UNSPECIFIED): Promise<ControlResponse> {
    if (this.machine.is("closed")) {
      return Promise.reject(
        new BgpProxyError("transport", "control stream closed", { retryable: false }),
      );
    }
    const request: ControlRequest = { ...tuple, action };
    const key = tupleKey(request);
    const existing = this.pending.get(key);
    if (existing) return existing.promise;
    let resolve!: (r: ControlResponse) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<ControlResponse>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = this.options.clock.schedule(
      this.options.requestTimeoutMs ?? CONTROL_REQUEST_TIMEOUT_MS,
      () => {
        this.pending.delete(key);
        reject(new BgpProxyError("transport", `no answer from the gateway for ${tuple.deviceIp}`));
      },
    );
    this.pending.set(key, { request, promise, resolve, reject, timer });
    if (this.machine.is("ready", "connecting")) this.send(request);
    else if (this.machine.is("backoff")) this.redialForWaitingRouter();
    return promise;
  }

  /**
   * A router is waiting for an answer while the stream is down (a WAN blip just healed,
   * perhaps): end the backoff now rather than make it wait up to a minute. Not after
   * refused credentials, and not within MIN_REDIAL_MS of the last dial: a burst of
   * routers cannot turn this into a retry storm.
   */
  private redialForWaitingRouter(): void {
    if (this.authRefused) return;
    if (this.options.clock.now() - this.connectedAt < MIN_REDIAL_MS) return;
    this.retryTimer?.cancel();
    this.options.logger.info("a router is waiting: redialling the gateway now");
    this.connect();
  }

  status(): ControlStatus {
    return {
      state: this.machine.state,
      connected: this.machine.is("ready"),
      since: this.machine.enteredAt,
      messagesRx: this.messagesRx,
      reconnects: this.reconnects,
      lastTx: this.lastTx,
      lastRx: this.lastRx,
      lastRttMs: this.lastRttMs,
      lastError: this.lastError,
    };
  }

  close(): void {
    if (this.machine.is("closed")) return;
    this.machine.moveTo("closed");
    this.stopStream();
    this.retryTimer?.cancel();
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(new BgpProxyError("transport", "control stream closed", { retryable: false }));
    }
    this.pending.clear();
  }

  private connect(): void {
    this.machine.moveTo("connecting");
    const client = this.options.newClient();
    const call = client.control(this.options.metadata());
    this.client = client;
    this.call = call;
    this.connectedAt = this.options.clock.now();
    call.on("metadata", () => this.onReady(call));
    call.on("data", (response: ControlResponse) => this.onResponse(call, response));
    call.on("error", (err: grpc.ServiceError) => this.onStreamDown(call, err));
    call.on("end", () =>
      this.onStreamDown(
        call,
        new BgpProxyError("transport", "the gateway ended the Control stream"),
      ),
    );
    for (const p of this.pending.values()) this.send(p.request);
    this.scheduleHeartbeat();
  }

  private onReady(call: ControlCall): void {
    if (call !== this.call || !this.machine.is("connecting")) return;
    this.machine.moveTo("ready");
    this.authRefused = false;
    this.options.logger.info("control stream connected");
    this.lastRx = this.options.clock.now();
    this.stableTimer = this.options.clock.schedule(STABLE_AFTER_MS, () => {
      this.backoff.reset();
      this.authBackoff.reset();
    });
  }

  private onResponse(call: ControlCall, response: ControlResponse): void {
    if (call !== this.call) return;
    const now = this.options.clock.now();
    this.messagesRx++;
    this.lastRx = now;
    if (this.machine.is("connecting")) this.onReady(call);
    if (response.action === ControlAction.KEEPALIVE) {
      if (this.keepaliveSentAt !== undefined) {
        this.lastRttMs = now - this.keepaliveSentAt;
        this.keepaliveSentAt = undefined;
        this.options.onHeartbeat?.(this.lastRttMs);
      }
      return;
    }
    const key = this.matchPending(response);
    const pending = key === undefined ? undefined : this.pending.get(key);
    if (key !== undefined && pending) {
      this.pending.delete(key);
      pending.timer.cancel();
      pending.resolve(response);
      return;
    }
    this.options.onPush(response);
  }

  /**
   * Which request an answer is for. The contract has the gateway echo the 5-tuple; a
   * gateway that rewrites the ports or leaves the tuple out still gets its answers
   * delivered: the oldest request for the same device, or with no device, the oldest one.
   */
  private matchPending(response: ControlResponse): string | undefined {
    const exact = tupleKey(response);
    if (this.pending.has(exact)) return exact;
    for (const [key, p] of this.pending) {
      if (response.deviceIp === "" || p.request.deviceIp === response.deviceIp) return key;
    }
    return undefined;
  }

  private onStreamDown(call: ControlCall, err: Error): void {
    if (call !== this.call || this.machine.is("closed", "backoff")) return;
    const code = (err as grpc.ServiceError).code;
    const auth = code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED;
    const delay = auth ? this.authBackoff.next() : this.backoff.next();
    this.authRefused = auth;
    this.lastError = auth ? "credentials refused by the gateway" : errorMessage(err);
    this.stopStream();
    this.machine.moveTo("backoff", this.lastError);
    this.reconnects++;
    const fields = { retry_in_ms: delay, grpc_code: code };
    if (auth) {
      this.options.logger.error(
        "the gateway refused the agent's credentials (check --email/--token)",
        fields,
      );
    } else {
      this.options.logger.warn(`control stream down: ${this.lastError}`, fields);
    }
    this.retryTimer = this.options.clock.schedule(delay, () => {
      if (this.machine.is("backoff")) this.connect();
    });
  }

  /** Watchdog: tear down after `timeoutMs` of silence. */
  private scheduleHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    const { intervalMs, timeoutMs } = this.options.heartbeat;
    this.heartbeatTimer = this.options.clock.schedule(intervalMs, () => {
      const call = this.call;
      if (!call || this.machine.is("closed", "backoff")) return;
      const now = this.options.clock.now();
      const heardAt =
        this.lastRx !== undefined && this.lastRx >= this.connectedAt
          ? this.lastRx
          : this.connectedAt;
      if (now - heardAt >= timeoutMs) {
        this.onStreamDown(
          call,
          new BgpProxyError("transport", `no message from the gateway for ${now - heardAt} ms`),
        );
        return;
      }
      if (this.machine.is("ready")) {
        this.keepaliveSentAt = now;
        this.send({
          proto: "",
          deviceIp: "",
          devicePort: 0,
          proxyIp: "",
          proxyPort: 0,
          action: ControlAction.KEEPALIVE,
        });
      }
      this.scheduleHeartbeat();
    });
  }

  private send(request: ControlRequest): void {
    const call = this.call;
    if (!call || call.writableEnded) return;
    this.lastTx = this.options.clock.now();
    call.write(request);
  }

  private stopStream(): void {
    this.heartbeatTimer?.cancel();
    this.stableTimer?.cancel();
    this.keepaliveSentAt = undefined;
    const call = this.call;
    const client = this.client;
    this.call = undefined;
    this.client = undefined;
    call?.cancel();
    client?.close();
  }
}
