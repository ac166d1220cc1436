import pkg from "../package.json" with { type: "json" };

/**
 * Set at build time: `bun build --compile --define BGPROXY_VERSION='"1.2.3"'` replaces the
 * identifier with the literal. Not defined when running from source, and deliberately not
 * an environment variable: the version cannot change with the environment it runs in.
 */
declare const BGPROXY_VERSION: string | undefined;

function buildVersion(): string | undefined {
  return typeof BGPROXY_VERSION === "string" && BGPROXY_VERSION !== ""
    ? BGPROXY_VERSION
    : undefined;
}

/** The release version, or package.json's version with "-dev" when running from source. */
export const version: string = buildVersion() ?? `${pkg.version}-dev`;

/** Sent as the gRPC user agent and in the agent's `version` metadata. */
export const userAgent: string = `bgproxy/${version}`;
