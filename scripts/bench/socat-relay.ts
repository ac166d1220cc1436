/**
 * Path (b): what an operator would put in the middle without bgproxy —
 *
 *   socat TCP-LISTEN:179,bind=<P's rp .3>,fork,reuseaddr TCP:<far end>:179,bind=<P's pc .3>
 *
 * one forked socat per session, default options (8 KiB transfer buffer). CPU and memory are
 * read over the listener and its children (proc-stats.ts: PSS, and CPU of reaped children).
 */
import type { ManagedProcess } from "../../test/support/process.ts";
import { waitUntil } from "../../test/support/wait.ts";
import { pidsInNetns, readProc, readPss } from "./proc-stats.ts";
import { type BenchTopology, BGP_PORT } from "./topology.ts";

export interface SocatRelay {
  /** The listening socat. */
  readonly pid: number;
  readonly command: string;
  /** CPU seconds of the listener, its live children and its reaped ones. */
  cpu(): number;
  /** PSS of the listener and its live children, bytes. */
  pss(): number;
  /** Live socat processes (listener included). */
  processes(): number;
  stop(): Promise<void>;
}

export async function startSocat(topo: BenchTopology, farEnd: string): Promise<SocatRelay> {
  const argv = [
    "socat",
    `TCP-LISTEN:${BGP_PORT},bind=${topo.socatListen},fork,reuseaddr,backlog=1024`,
    `TCP:${farEnd}:${BGP_PORT},bind=${topo.socatSource}`,
  ];
  const proc: ManagedProcess = topo.proxy.spawn(argv, { label: "socat" });
  await waitUntil(
    async () => {
      if (!proc.running) throw new Error(`socat exited: ${proc.tail()}`);
      const r = await topo.proxy.exec(["ss", "-Hltn", `src ${topo.socatListen}:${BGP_PORT}`]);
      return r.stdout.includes(`${topo.socatListen}:${BGP_PORT}`);
    },
    { timeoutMs: 10_000, what: "socat listening" },
  );
  const all = () => pidsInNetns(topo.proxy.name, "socat");
  return {
    pid: proc.pid,
    command: argv.join(" "),
    cpu: () => {
      let sum = 0;
      for (const pid of all()) {
        const r = readProc(pid);
        if (r) sum += r.cpu + (pid === proc.pid ? r.childCpu : 0);
      }
      return sum;
    },
    pss: () => all().reduce((n, pid) => n + readPss(pid), 0),
    processes: () => all().length,
    stop: async () => {
      await proc.stop({ graceMs: 2000 });
    },
  };
}
