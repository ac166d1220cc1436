/**
 * The roles running in one process (the agent, the gateway, both in standalone mode and in
 * in-process tests) that want a per-process service (the GC pacer, the background-thread
 * lowering): each `join`s with what it wants and gets its own stop, idempotent (a second
 * call does not count for another role). The owner sees what the roles present want, in the
 * order they joined, after every change: none left means the service stops.
 */
export class ProcessRoles<T> {
  private readonly wanted = new Map<number, T>();
  private nextRole = 1;

  constructor(private readonly changed: (wants: readonly T[]) => void) {}

  /** What the roles present want, in joining order (empty when none is). */
  get wants(): readonly T[] {
    return [...this.wanted.values()];
  }

  /** A role joins wanting `want`; returns its stop. */
  join(want: T): () => void {
    const role = this.nextRole++;
    this.wanted.set(role, want);
    this.changed(this.wants);
    return () => {
      if (this.wanted.delete(role)) this.changed(this.wants);
    };
  }
}
