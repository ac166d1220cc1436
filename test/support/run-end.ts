/**
 * Preloaded into every `bun test` (bunfig.toml): at the end of the run, the cleanups still
 * registered with test/support/cleanup.ts run here, because `bun test` ends without the
 * "exit" event that would otherwise run them.
 */
import { afterAll } from "bun:test";
import { runProcessCleanups } from "./cleanup.ts";

afterAll(runProcessCleanups);
