/**
 * Run-queue waits from a `perf sched record` trace (the text of `perf script -F
 * comm,pid,tid,cpu,time,event,trace`): each time one of the watched threads was runnable but
 * not running for at least `minMs` (woken, or preempted, until it ran), and what the CPU it
 * was queued on ran meanwhile. Pure: text in, figures out. Used by latency-waits.ts.
 */

export interface SchedEvent {
  time: number; // seconds
  cpu: number;
  event: string; // sched_switch, sched_waking, sched_migrate_task, ...
  pid: number;
  tid: number;
  comm: string;
  trace: string;
}

const LINE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)$/;

export function parseSchedScript(text: string): SchedEvent[] {
  const out: SchedEvent[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({
      comm: m[1] as string,
      pid: Number(m[2]),
      tid: Number(m[3]),
      cpu: Number(m[4]),
      time: Number(m[5]),
      event: m[6] as string,
      trace: m[7] as string,
    });
  }
  return out;
}

export interface Wait {
  tid: number;
  start: number;
  end: number;
  cpu: number;
  /** Seconds each thread (by tid; 0 = the CPU idle) ran on `cpu` during the wait. */
  held: Map<number, number>;
}

interface Run {
  start: number;
  end: number;
  tid: number;
}

/**
 * The waits of `watched` threads of at least `minMs`. A wait starts when the thread is woken
 * (sched_waking; moved by sched_migrate_task) or switched out while runnable, and ends when
 * it is switched in.
 */
export function runQueueWaits(
  events: readonly SchedEvent[],
  watched: ReadonlySet<number>,
  minMs: number,
): Wait[] {
  const runs = new Map<number, Run[]>(); // cpu → what ran
  const running = new Map<number, { tid: number; since: number }>();
  const waiting = new Map<number, { since: number; cpu: number }>();
  const found: { tid: number; start: number; end: number; cpu: number }[] = [];
  for (const e of events) {
    if (e.event === "sched_waking" || e.event === "sched_wakeup") {
      const tid = numberField(e.trace, "pid");
      const target = numberField(e.trace, "target_cpu");
      if (watched.has(tid) && !waiting.has(tid)) waiting.set(tid, { since: e.time, cpu: target });
    } else if (e.event === "sched_migrate_task") {
      const tid = numberField(e.trace, "pid");
      const w = waiting.get(tid);
      if (w) w.cpu = numberField(e.trace, "dest_cpu");
    } else if (e.event === "sched_switch") {
      const prev = numberField(e.trace, "prev_pid");
      const next = numberField(e.trace, "next_pid");
      const state = /prev_state=(\S+)/.exec(e.trace)?.[1] ?? "";
      const cur = running.get(e.cpu);
      if (cur) {
        const list = runs.get(e.cpu) ?? [];
        list.push({ start: cur.since, end: e.time, tid: cur.tid });
        runs.set(e.cpu, list);
      }
      running.set(e.cpu, { tid: next, since: e.time });
      if (watched.has(prev) && state.startsWith("R"))
        waiting.set(prev, { since: e.time, cpu: e.cpu });
      const w = waiting.get(next);
      if (w) {
        waiting.delete(next);
        if ((e.time - w.since) * 1000 >= minMs)
          found.push({ tid: next, start: w.since, end: e.time, cpu: w.cpu });
      }
    }
  }
  return found.map((w) => {
    const held = new Map<number, number>();
    for (const r of runs.get(w.cpu) ?? []) {
      if (r.end < w.start || r.start > w.end) continue;
      const s = Math.min(r.end, w.end) - Math.max(r.start, w.start);
      held.set(r.tid, (held.get(r.tid) ?? 0) + s);
    }
    return { ...w, held };
  });
}

/** The thread that held the CPU longest during the wait (0: idle). */
export function mainHolder(w: Wait): number {
  let best = 0;
  let most = -1;
  for (const [tid, s] of w.held) {
    if (s > most) {
      best = tid;
      most = s;
    }
  }
  return best;
}

/** Thread id → pid and name, as seen in the trace. */
export function threadNames(
  events: readonly SchedEvent[],
): Map<number, { pid: number; comm: string }> {
  const out = new Map<number, { pid: number; comm: string }>();
  for (const e of events) out.set(e.tid, { pid: e.pid, comm: e.comm });
  return out;
}

function numberField(trace: string, name: string): number {
  const m = new RegExp(`(?:^|\\s)${name}=(\\d+)`).exec(trace);
  return m ? Number(m[1]) : -1;
}
