import type { Clock } from "../core/clock.ts";
import type { DeviceRuntime } from "./device-registry.ts";

/**
 * The one owner of a device's live state on the gateway. Whatever sees a session (the Data
 * service when it opens and ends, the built-in collector or the forwarded-session observer
 * while it runs) reports events on that session's handle; the tracker keeps each session's
 * state and folds them per device:
 *
 * - `sessions`: sessions open now; `sessionsTotal`: sessions ever opened;
 * - `established`: at least one open session is Established;
 * - `counters.prefixes`: the sum over the open Established sessions of their prefixes now
 *   (a session that is not Established counts none);
 * - `counters.updates`: every UPDATE any session reported (never goes down);
 * - `lastChange`: when the device's state (idle / connected / established) last changed,
 *   by the injected clock.
 *
 * So a second connection from a device's address (a probe, a parallel session, the next
 * attempt after a flap) never erases what an Established session shows.
 */
export interface PrefixCounts {
  readonly ipv4: number;
  readonly ipv6: number;
}

/** The events of one session, in any order; calls after `closed()` are ignored. */
export interface SessionEvents {
  /** The session's BGP state: Established or not (leaving Established drops its prefixes). */
  state(established: boolean): void;
  /** The session's UPDATEs so far (cumulative) and the prefixes it announces now. */
  counts(updates: number, prefixes: PrefixCounts): void;
  /** The session is over (idempotent). */
  closed(): void;
}

interface SessionRecord {
  established: boolean;
  updates: number;
  prefixes: PrefixCounts;
}

const NONE: PrefixCounts = { ipv4: 0, ipv6: 0 };

export class DeviceTracker {
  private readonly sessions = new Map<DeviceRuntime, Set<SessionRecord>>();

  constructor(private readonly clock: Pick<Clock, "now">) {}

  /** A session of `device` opened: its events go to the returned handle. */
  opened(device: DeviceRuntime): SessionEvents {
    const record: SessionRecord = { established: false, updates: 0, prefixes: NONE };
    let open = this.sessions.get(device);
    if (!open) {
      open = new Set();
      this.sessions.set(device, open);
    }
    open.add(record);
    device.sessionsTotal++;
    this.fold(device);
    let closed = false;
    return {
      state: (established) => {
        if (closed || record.established === established) return;
        record.established = established;
        if (!established) record.prefixes = NONE;
        this.fold(device);
      },
      counts: (updates, prefixes) => {
        if (closed) return;
        device.counters.updates += Math.max(0, updates - record.updates);
        record.updates = Math.max(record.updates, updates);
        record.prefixes = record.established ? { ipv4: prefixes.ipv4, ipv6: prefixes.ipv6 } : NONE;
        this.fold(device);
      },
      closed: () => {
        if (closed) return;
        closed = true;
        open.delete(record);
        if (open.size === 0) this.sessions.delete(device);
        this.fold(device);
      },
    };
  }

  private fold(device: DeviceRuntime): void {
    const open = this.sessions.get(device);
    let established = false;
    let ipv4 = 0;
    let ipv6 = 0;
    for (const s of open ?? []) {
      if (!s.established) continue;
      established = true;
      ipv4 += s.prefixes.ipv4;
      ipv6 += s.prefixes.ipv6;
    }
    const sessions = open?.size ?? 0;
    const stateChanged =
      (device.sessions === 0) !== (sessions === 0) || device.established !== established;
    device.sessions = sessions;
    device.established = established;
    device.counters.prefixes = { ipv4, ipv6 };
    if (stateChanged) device.lastChange = this.clock.now();
  }
}
