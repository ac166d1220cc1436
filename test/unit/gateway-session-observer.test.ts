import { describe, expect, test } from "bun:test";
import { Afi, Safi } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeNotification } from "../../src/bgp/notification.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { SessionObserver } from "../../src/gateway/session-observer.ts";
import { cellsAllocatedBy } from "../support/heap-cells.ts";

const families = [
  { afi: Afi.IPV4, safi: Safi.UNICAST },
  { afi: Afi.IPV6, safi: Safi.UNICAST },
];
const routerOpen = encodeOpen({
  asn: 65001,
  holdTime: 90,
  routerId: "10.0.0.1",
  capabilities: { multiprotocol: families },
});
const daemonOpen = encodeOpen({
  asn: 64512,
  holdTime: 90,
  routerId: "10.0.0.2",
  capabilities: { multiprotocol: families },
});

function establish(o: SessionObserver): void {
  o.fromRouter(routerOpen);
  o.fromDaemon(daemonOpen);
  o.fromDaemon(encodeKeepalive());
  o.fromRouter(encodeKeepalive());
}

describe("SessionObserver", () => {
  test("is established only after OPEN and KEEPALIVE both ways", () => {
    const o = new SessionObserver();
    o.fromRouter(routerOpen);
    o.fromDaemon(daemonOpen);
    o.fromDaemon(encodeKeepalive());
    expect(o.established).toBe(false);
    o.fromRouter(encodeKeepalive());
    expect(o.established).toBe(true);
  });

  test("counts the router's prefixes exactly, across chunk boundaries", () => {
    const o = new SessionObserver();
    establish(o);
    const stream = Buffer.concat([
      encodeUpdate({
        origin: 0,
        asPath: [65001, 4200000000],
        nextHop: "10.0.0.1",
        nlri: ["198.51.100.0/24", "203.0.113.0/24"],
      }),
      encodeUpdate({
        origin: 0,
        asPath: [65001],
        mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:1::/48"] },
      }),
      encodeUpdate({ withdrawn: ["198.51.100.0/24"] }),
    ]);
    for (let i = 0; i < stream.length; i += 7) o.fromRouter(stream.subarray(i, i + 7));
    expect(o.updates).toBe(3);
    expect(o.prefixes).toEqual({ ipv4: 1, ipv6: 1 });
  });

  test("allocates no object per UPDATE, even before the engine optimizes its code", () => {
    // A burst's UPDATEs first run in the engine's lower tiers, which allocate every scope a
    // closure could capture on each call: one object per UPDATE through a first burst.
    const o = new SessionObserver();
    establish(o);
    const n = 8000;
    const updates = Buffer.concat(
      Array.from({ length: n }, (_, i) =>
        encodeUpdate({
          origin: 0,
          asPath: [65001],
          nextHop: "10.0.0.1",
          nlri: [`10.${(i >> 8) & 255}.${i & 255}.0/24`],
        }),
      ),
    );
    const grown = cellsAllocatedBy(() => o.fromRouter(updates));
    expect(o.updates).toBe(n);
    expect(o.prefixes.ipv4).toBe(n);
    expect(grown).toBeLessThan(n / 4);
  });

  test("a NOTIFICATION ends the session view and clears the counts", () => {
    const o = new SessionObserver();
    establish(o);
    o.fromRouter(
      encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri: ["198.51.100.0/24"] }),
    );
    o.fromDaemon(encodeNotification({ code: 6, subcode: 2, data: new Uint8Array(0) }));
    expect(o.established).toBe(false);
    expect(o.prefixes).toEqual({ ipv4: 0, ipv6: 0 });
  });

  test("garbage stops the observing without throwing", () => {
    const o = new SessionObserver();
    establish(o);
    expect(() => o.fromRouter(Buffer.alloc(40, 0x11))).not.toThrow();
    expect(o.stoppedBecause).toBeString();
    expect(o.established).toBe(false);
  });
});
