/**
 * Worker role `speakers`: the far end of the session-scale scenario's direct and socat
 * paths — the same passive BGP speaker as bgproxy's built-in collector
 * (src/collector/bgp-speaker.ts), one per accepted TCP connection, so every path ends in the
 * same BGP code. `stats` sums their states and prefix counts.
 */
import { createServer, type Socket } from "node:net";
import { BgpSpeaker } from "../../src/collector/bgp-speaker.ts";
import { systemClock } from "../../src/core/clock.ts";
import { emit, type Fields, serveCommands } from "./worker-channel.ts";

export interface SpeakersArgs {
  listen: { host: string; port: number }[];
  asn: number;
  routerId: string;
  holdTime: number;
}

export async function runSpeakers(args: SpeakersArgs): Promise<void> {
  const speakers = new Set<BgpSpeaker>();
  const onConnection = (socket: Socket) => {
    socket.setNoDelay(true);
    const speaker = new BgpSpeaker({
      localAsn: args.asn,
      routerId: args.routerId,
      holdTime: args.holdTime,
      clock: systemClock,
      onSend: (bytes) => socket.write(bytes),
      onClose: () => socket.end(),
    });
    speakers.add(speaker);
    socket.on("data", (chunk: Buffer) => speaker.receive(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      speaker.close();
      speakers.delete(speaker);
    });
  };
  for (const { host, port } of args.listen) {
    const server = createServer({ allowHalfOpen: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, backlog: 2048 }, () => resolve());
    });
  }
  serveCommands({
    stats: (): Fields => {
      let established = 0;
      let ipv4 = 0;
      let ipv6 = 0;
      let updates = 0;
      for (const s of speakers) {
        const st = s.stats();
        if (st.state === "Established") established++;
        ipv4 += st.prefixes.ipv4;
        ipv6 += st.prefixes.ipv6;
        updates += st.updates;
      }
      return { sessions: speakers.size, established, ipv4, ipv6, updates };
    },
  });
  emit("ready");
}
