import type { AgentCallInfo } from "./agent-call.ts";

/** The agents whose Control stream is up, for the gateway's status API. */
export interface AgentEntry {
  readonly info: AgentCallInfo;
  readonly connectedAt: number;
  lastHeard: number;
  heard(): void;
}

export class AgentDirectory {
  private readonly entries = new Set<AgentEntry>();
  /** Open Data streams per agent instance (streams may outlive or precede its Control stream). */
  private readonly sessions = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  connected(info: AgentCallInfo): AgentEntry {
    const now = this.now();
    const clock = this.now;
    const entry: AgentEntry = {
      info,
      connectedAt: now,
      lastHeard: now,
      heard() {
        this.lastHeard = clock();
      },
    };
    this.entries.add(entry);
    return entry;
  }

  /** True the first time an entry is removed. */
  disconnected(entry: AgentEntry): boolean {
    return this.entries.delete(entry);
  }

  all(): AgentEntry[] {
    return [...this.entries];
  }

  sessionOpened(instance: string): void {
    this.sessions.set(instance, (this.sessions.get(instance) ?? 0) + 1);
  }

  sessionClosed(instance: string): void {
    const n = (this.sessions.get(instance) ?? 0) - 1;
    if (n > 0) this.sessions.set(instance, n);
    else this.sessions.delete(instance);
  }

  /** Data streams open now for an agent instance. */
  sessionsOf(instance: string): number {
    return this.sessions.get(instance) ?? 0;
  }
}
