import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  mayRaiseBack,
  ownThreadPort,
  ownThreads,
  SCHED_IDLE,
  SCHED_OTHER,
  threadPolicy,
} from "../../native/thread-scheduling.ts";

/** Field 41 of /proc/self/task/TID/stat: the thread's scheduling policy, as the kernel reports it. */
function policyFromProc(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[38]); // fields from the 3rd on: policy is the 41st
}

describe.skipIf(process.platform !== "linux")(
  "thread scheduling (native/thread-scheduling.ts)",
  () => {
    test("lists this process's threads with their names, the main thread among them", () => {
      const threads = ownThreads();
      const main = threads.find((t) => t.tid === process.pid);
      expect(main).toBeDefined();
      expect(threads.length).toBeGreaterThan(1); // the runtime's own threads
      for (const t of threads) expect(t.name.length).toBeGreaterThan(0);
    });

    test("lowers one thread to SCHED_IDLE, leaving the others as they were", async () => {
      const before = new Set(ownThreads().map((t) => t.tid));
      // A worker is a thread of this process that the test may lower and then end.
      const worker = new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000);"])));
      try {
        let fresh: number | undefined;
        for (let i = 0; i < 100 && fresh === undefined; i++) {
          fresh = ownThreads().find((t) => !before.has(t.tid))?.tid;
          if (fresh === undefined) await Bun.sleep(10);
        }
        if (fresh === undefined) throw new Error("the worker's thread did not show up");
        const port = ownThreadPort();
        expect(threadPolicy(fresh)).toBe(SCHED_OTHER);
        expect(port.lower(fresh)).toBe(true);
        expect(threadPolicy(fresh)).toBe(SCHED_IDLE);
        expect(policyFromProc(fresh)).toBe(SCHED_IDLE);
        expect(threadPolicy(process.pid)).toBe(SCHED_OTHER);
        expect(port.runDelayNs(fresh)).toBeGreaterThanOrEqual(0);
        if (port.mayRaiseBack) {
          expect(port.raise(fresh)).toBe(true);
          expect(policyFromProc(fresh)).toBe(SCHED_OTHER);
        }
      } finally {
        worker.terminate();
      }
    });

    test("a thread that is gone is reported as such, not as a failure", () => {
      const port = ownThreadPort();
      expect(port.lower(2 ** 30)).toBe(false); // beyond pid_max: no such thread
      expect(port.runDelayNs(2 ** 30)).toBeUndefined();
    });

    test("raising back is allowed by CAP_SYS_NICE or an RLIMIT_NICE of 20 or more", () => {
      const limits = (soft: string) =>
        `Limit                     Soft Limit           Hard Limit           Units\nMax nice priority         ${soft}                    0                    \n`;
      const status = (capEff: string) => `Name:\tbun\nCapEff:\t${capEff}\n`;
      expect(mayRaiseBack(status("0000000000000000"), limits("0"))).toBe(false);
      expect(mayRaiseBack(status("0000000000800000"), limits("0"))).toBe(true); // bit 23
      expect(mayRaiseBack(status("000001fffeffffff"), limits("0"))).toBe(true); // root
      expect(mayRaiseBack(status("0000000000003000"), limits("0"))).toBe(false); // NET_ADMIN, NET_RAW
      expect(mayRaiseBack(status("0000000000000000"), limits("20"))).toBe(true); // LimitNICE=+0
      expect(mayRaiseBack(status("0000000000000000"), limits("19"))).toBe(false);
      expect(mayRaiseBack(status("0000000000000000"), limits("unlimited"))).toBe(true);
    });
  },
);
