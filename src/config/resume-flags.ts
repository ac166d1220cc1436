/**
 * The flags of resume after a lost Data stream (docs/resilience.md), shared by the agent
 * (`--resume-window`) and the gateway (`--resume-grace`), both with `--replay-limit`.
 */
import type { FlagSpec, Setting } from "./flags.ts";
import { parseInteger, parseSecondsAsMs } from "./scalars.ts";
import type { ResumeSettings } from "./types.ts";

/** Replay buffer bound per session and direction, KiB. */
export const DEFAULT_REPLAY_LIMIT_KIB = 4096;
/** The gateway holds a lost stream's far end this long by default (for agents that ask). */
export const DEFAULT_RESUME_GRACE_S = 30;

export const REPLAY_LIMIT_FLAG: FlagSpec = {
  name: "replay-limit",
  kind: "string",
  valueName: "KiB",
  defaultText: String(DEFAULT_REPLAY_LIMIT_KIB),
  help: "Resume: unconfirmed bytes kept per session and direction (past it: no resume)",
};

export const RESUME_WINDOW_FLAG: FlagSpec = {
  name: "resume-window",
  kind: "string",
  valueName: "seconds",
  defaultText: "0",
  help: "Seconds to re-attach a lost Data stream before bridging (0 = off)",
};

export const RESUME_GRACE_FLAG: FlagSpec = {
  name: "resume-grace",
  kind: "string",
  valueName: "seconds",
  defaultText: String(DEFAULT_RESUME_GRACE_S),
  help: "Seconds a far end is held for its session's next Data stream after a lost stream or a RESTART (0 = off)",
};

/** The resume settings from a window/grace flag (0 = off) and `--replay-limit`. */
export function parseResume(
  time: Setting | undefined,
  limit: Setting | undefined,
  defaultSeconds: number,
): ResumeSettings | undefined {
  let windowMs = defaultSeconds * 1000;
  if (time) windowMs = time.value.trim() === "0" ? 0 : parseSecondsAsMs(time, 3600);
  const kib = limit ? parseInteger(limit, 64, 1024 * 1024) : DEFAULT_REPLAY_LIMIT_KIB;
  return windowMs === 0 ? undefined : { windowMs, limitBytes: kib * 1024 };
}
