import { MessageType } from "../../bgp/constants.ts";
import { type BgpOpen, decodeOpen } from "../../bgp/open.ts";
import { isEndOfRib } from "./bridge-messages.ts";
import { type SessionTerms, sessionTerms } from "./far-end-check.ts";

/**
 * What the bridge learns from the messages it relays (pure): the router's OPEN (kept, to
 * replay it to a new far end), the far end's OPEN, both first KEEPALIVEs, the terms of the
 * session once both sides confirmed, and the first reason bridging would be unsafe.
 */
export class SessionWatch {
  routerOpen?: { bytes: Uint8Array; open: BgpOpen };
  private farOpen?: BgpOpen;
  private routerConfirmed = false;
  private farConfirmed = false;
  /** Why bridging cannot apply to this session, once that is known (the first reason). */
  unsafe?: string;
  /** The session's terms, once it is Established. */
  terms?: SessionTerms;

  /** The negotiated hold time in ms (0: none, or not Established yet). */
  get holdMs(): number {
    return (this.terms?.holdTime ?? 0) * 1000;
  }

  markUnsafe(reason: string): void {
    this.unsafe ??= reason;
  }

  /** A router message; `established`: the session already is (a second OPEN is unsafe). */
  router(type: number, message: Uint8Array | undefined, established: boolean): void {
    if (type === MessageType.OPEN && message) {
      try {
        this.routerOpen = { bytes: message, open: decodeOpen(message.subarray(19)) };
      } catch {
        this.markUnsafe("the router's OPEN is unreadable");
      }
      this.routerConfirmed = false;
      if (established) this.markUnsafe("the router sent a second OPEN");
    } else if (type === MessageType.KEEPALIVE && this.routerOpen) this.routerConfirmed = true;
    else if (type === MessageType.NOTIFICATION) this.markUnsafe("the router sent a NOTIFICATION");
  }

  /** A far-end message relayed to the router. */
  farEnd(type: number, message: Uint8Array | undefined, established: boolean): void {
    if (type === MessageType.OPEN && message) {
      try {
        this.farOpen = decodeOpen(message.subarray(19));
      } catch {
        this.markUnsafe("the far end's OPEN is unreadable");
      }
      this.farConfirmed = false;
      if (established) this.markUnsafe("the far end sent a second OPEN");
    } else if (type === MessageType.KEEPALIVE && this.farOpen) this.farConfirmed = true;
    else if (type === MessageType.UPDATE && !(message && isEndOfRib(message))) {
      this.markUnsafe("the far end sent the router routes");
    } else if (type === MessageType.NOTIFICATION)
      this.markUnsafe("the far end sent a NOTIFICATION");
  }

  /** Both OPENs and KEEPALIVEs seen: fixes the session's terms and returns true (once). */
  established(): boolean {
    const router = this.routerOpen?.open;
    const far = this.farOpen;
    if (this.terms || !this.routerConfirmed || !this.farConfirmed || !router || !far) {
      return false;
    }
    this.terms = sessionTerms(router, far);
    if (!router.capabilities.routeRefresh) {
      this.markUnsafe("the router did not advertise route refresh");
    }
    return true;
  }

  /** A new far end took over with `open`. */
  tookOver(open: BgpOpen): void {
    this.farOpen = open;
    this.farConfirmed = true;
  }
}
