/**
 * A minimal BGP router for component tests: connects from `local` to a relay's router port,
 * sends OPEN, waits for the far end's KEEPALIVE and answers with its own, so that the
 * session is Established at both ends. The socket is closed when the test's cleanup runs.
 */
import { connect, type Socket } from "node:net";
import { Afi, MessageType, Safi } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen, type OpenSpec } from "../../src/bgp/open.ts";
import { waitUntil } from "./wait.ts";

export interface TestRouter {
  port: number;
  local: string;
  asn: number;
  routerId: string;
}

export const IPV4_UNICAST_CAPS: OpenSpec["capabilities"] = {
  multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }],
};

/** IPv4 and IPv6 unicast (RFC 4760). */
export const DUAL_STACK_CAPS: OpenSpec["capabilities"] = {
  multiprotocol: [
    { afi: Afi.IPV4, safi: Safi.UNICAST },
    { afi: Afi.IPV6, safi: Safi.UNICAST },
  ],
};

/** Establish BGP through `port` from `local`; `track` receives the socket for cleanup. */
export async function establishRouter(
  r: TestRouter,
  track: (socket: Socket) => void,
  capabilities: OpenSpec["capabilities"] = IPV4_UNICAST_CAPS,
): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port: r.port, localAddress: r.local });
  track(socket);
  socket.on("error", () => {});
  const framer = new BgpFramer();
  let keepalive = false;
  socket.on("data", (d: Buffer) => {
    for (const f of framer.push(new Uint8Array(d)))
      if (f.type === MessageType.KEEPALIVE) keepalive = true;
  });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(encodeOpen({ asn: r.asn, holdTime: 90, routerId: r.routerId, capabilities }));
  await waitUntil(() => keepalive, { timeoutMs: 5000, what: `${r.local} OPEN/KEEPALIVE` });
  socket.write(encodeKeepalive());
  return socket;
}
