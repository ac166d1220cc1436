import type { DeviceRuntime } from "./device-registry.ts";

/**
 * The gateway's live sessions, by device: who relays each one, and how to end it. A Data
 * stream claims its device before the far end is opened and releases it when it ends.
 *
 * The duplicate-device rule: a device is relayed by one agent at a time. While a device
 * has a live session relayed by agent instance A, a Data stream for it from another
 * instance B is refused (the first one stays; the router behind B is disconnected and
 * retries on its own schedule). Several sessions of one device through the same agent are
 * allowed (a router reconnecting, BGP connection collision). The first refusal for a given
 * (device, holder, newcomer) is reported as `firstRefusal` so that it is logged once; the
 * memory of it clears when the device has no session left.
 */
/**
 * How the table reaches a live session: end it (KILL), or restart it (graceful RESTART);
 * `hold`: the gateway keeps the far end for the session's next Data stream (false: it is
 * draining, the far end closes once the exchange completed).
 */
export interface SessionControls {
  end(why: string): void;
  /** False when the session cannot restart now (no stream, or its stream is ending). */
  restart(hold: boolean): boolean;
}

export interface SessionClaim {
  readonly device: DeviceRuntime;
  readonly agentInstance: string;
  readonly sessionId: string;
  release(): void;
}

export type ClaimResult =
  | { readonly kind: "claimed"; readonly claim: SessionClaim }
  | {
      readonly kind: "refused";
      /** The agent instance that relays the device now. */
      readonly holder: string;
      readonly firstRefusal: boolean;
    }
  /** The gateway is draining: new sessions go elsewhere. */
  | { readonly kind: "draining" };

interface Entry {
  readonly agentInstance: string;
  readonly sessionId: string;
  readonly controls: SessionControls;
}

export class SessionTable {
  private readonly live = new Map<DeviceRuntime, Set<Entry>>();
  private readonly refusals = new Map<DeviceRuntime, Set<string>>();
  private drainingSince?: number;

  /** True once a drain started: every new claim is refused. */
  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Starts a drain: no new sessions, a graceful RESTART on every live one; returns how many. */
  drain(now: number): number {
    this.drainingSince ??= now;
    let n = 0;
    for (const entries of this.live.values()) {
      for (const e of [...entries]) {
        e.controls.restart(false);
        n++;
      }
    }
    return n;
  }

  /**
   * A graceful RESTART on every live session (or those of `sessionId`) without draining:
   * the far ends are held and each session's next Data stream re-attaches to its own.
   * Returns how many were asked.
   */
  restartStreams(sessionId?: string): number {
    let n = 0;
    for (const entries of this.live.values()) {
      for (const e of [...entries]) {
        if (sessionId !== undefined && e.sessionId !== sessionId) continue;
        if (e.controls.restart(true)) n++;
      }
    }
    return n;
  }

  claim(
    device: DeviceRuntime,
    agentInstance: string,
    sessionId: string,
    controls: SessionControls,
  ): ClaimResult {
    if (this.draining) return { kind: "draining" };
    const entries = this.live.get(device) ?? new Set<Entry>();
    const holder = [...entries].find((e) => e.agentInstance !== agentInstance);
    if (holder) {
      const seen = this.refusals.get(device) ?? new Set<string>();
      const pair = `${holder.agentInstance} ${agentInstance}`;
      const firstRefusal = !seen.has(pair);
      seen.add(pair);
      this.refusals.set(device, seen);
      return { kind: "refused", holder: holder.agentInstance, firstRefusal };
    }
    const entry: Entry = { agentInstance, sessionId, controls };
    entries.add(entry);
    this.live.set(device, entries);
    let released = false;
    return {
      kind: "claimed",
      claim: {
        device,
        agentInstance,
        sessionId,
        release: () => {
          if (released) return;
          released = true;
          entries.delete(entry);
          if (entries.size === 0 && this.live.get(device) === entries) {
            this.live.delete(device);
            this.refusals.delete(device);
          }
        },
      },
    };
  }

  /** Ends every live session of a device; returns how many were asked to end. */
  endDevice(device: DeviceRuntime, why: string): number {
    const entries = this.live.get(device);
    if (!entries) return 0;
    const all = [...entries];
    for (const e of all) e.controls.end(why);
    return all.length;
  }

  /** The agent instances relaying a device now. */
  relaying(device: DeviceRuntime): string[] {
    return [...new Set([...(this.live.get(device) ?? [])].map((e) => e.agentInstance))];
  }

  get size(): number {
    let n = 0;
    for (const entries of this.live.values()) n += entries.size;
    return n;
  }
}
