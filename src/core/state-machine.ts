import { BgpProxyError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/**
 * A guarded state machine: only the transitions listed are legal, each one is logged as
 * `OLD -> NEW`, and an illegal one throws instead of corrupting the state.
 */
export class StateMachine<S extends string> {
  private current: S;
  private since: number;

  constructor(
    private readonly name: string,
    initial: S,
    private readonly transitions: Readonly<Record<S, readonly S[]>>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly onChange?: (from: S, to: S) => void,
  ) {
    this.current = initial;
    this.since = now();
  }

  get state(): S {
    return this.current;
  }

  /** When the current state was entered (ms since epoch). */
  get enteredAt(): number {
    return this.since;
  }

  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  canMove(to: S): boolean {
    return this.transitions[this.current].includes(to);
  }

  /** Move to `to`; throws on an illegal transition. */
  moveTo(to: S, reason?: string): void {
    const from = this.current;
    if (!this.canMove(to)) {
      throw new BgpProxyError("internal", `${this.name}: illegal transition ${from} -> ${to}`);
    }
    this.current = to;
    this.since = this.now();
    this.logger.debug(`${this.name} ${from} -> ${to}`, reason ? { reason } : undefined);
    this.onChange?.(from, to);
  }
}
