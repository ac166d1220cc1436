/**
 * Bun runtime flags the release binary starts with (`bun build --compile
 * --compile-exec-argv=...` in scripts/build.ts), for `bgproxy agent` and `bgproxy gateway`
 * alike. The benchmark runs src/main.ts under the same flags (scripts/bench/bgproxy-stack.ts),
 * unless `--bun-flags` overrides them, so that it measures what ships. The decision and its
 * numbers: DEVELOPERS.md, "Data path".
 */
export const RUNTIME_BUN_FLAGS: readonly string[] = [];

/**
 * Environment `bgproxy agent` and `bgproxy gateway` run with; every service definition in
 * image/ sets it (test/unit/runtime-env.test.ts checks them), and the benchmark starts both
 * processes with it.
 *
 * BUN_GC_TIMER_DISABLE: Bun's own GC timer starts a collection every second whenever the
 * heap changed since the last look (1-3 ms of pause at a random moment). In the KEEPALIVE
 * latency scenario it was ~80 % of the agent's and gateway's collections (55 and 39 of a
 * run's collections, 12 and 11 without it) and a relayed message that meets one waits out
 * its pause: with a ping every 2 ms that put ~0.5 % of round trips at +1-3 ms, about where
 * the p99 sits (DEVELOPERS.md, "Data path: KEEPALIVE tail and head-of-line"). The engine's
 * allocation-paced collections stay, and src/core/gc-pacer.ts does the timer's other job
 * (giving memory back once the process goes quiet).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { BUN_GC_TIMER_DISABLE: "1" };
