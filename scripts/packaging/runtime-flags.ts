/**
 * Bun runtime flags the release binary starts with (`bun build --compile
 * --compile-exec-argv=...` in scripts/build.ts), for `bgproxy agent` and `bgproxy gateway`
 * alike. The benchmark runs src/main.ts under the same flags (scripts/bench/bgproxy-stack.ts),
 * unless `--bun-flags` overrides them, so that it measures what ships. The decision and its
 * numbers: DEVELOPERS.md, "Data path".
 */
export const RUNTIME_BUN_FLAGS: readonly string[] = [];
