import type { AdjRibIn } from "./adj-rib-in.ts";

/**
 * The Adj-RIB-In of every device whose session the built-in collector terminates, by
 * device name: what lookups, MRT dumps and the status page read. A session attaches its
 * RIB when it starts and detaches it when it ends; a newer session of the same device
 * replaces the older one's entry, and the older one's detach then leaves it alone.
 */
export interface RibPeer {
  readonly asn: number;
  readonly routerId: string;
  /** Seconds since the epoch when the session became Established. */
  readonly establishedAt: number;
}

export interface RibSource {
  readonly device: string;
  /** The router's address as the gateway knows the device. */
  readonly address: string;
  readonly rib: AdjRibIn;
  /** The peer's identity once its OPEN has arrived. */
  peer(): RibPeer | undefined;
}

export class RibDirectory {
  private readonly sources = new Map<string, RibSource>();

  /** Register a session's RIB; returns the function that unregisters it. */
  attach(source: RibSource): () => void {
    this.sources.set(source.device, source);
    return () => {
      if (this.sources.get(source.device) === source) this.sources.delete(source.device);
    };
  }

  get(device: string): RibSource | undefined {
    return this.sources.get(device);
  }

  /** Every attached source, by device name. */
  all(): RibSource[] {
    return [...this.sources.values()].sort((a, b) => a.device.localeCompare(b.device));
  }
}
