import { readFileSync } from "node:fs";
import type { GatewayConfig } from "../config/types.ts";
import { type HttpApi, type Route, startHttpApi } from "./http-api.ts";
import type { OtlpReceiver } from "./otlp-receiver.ts";

/**
 * `--export-listen`: the listener agents reach from afar to POST their OTLP logs and
 * metrics. It serves the receiver's paths (and `/hc`) only, over TLS with the gRPC port's
 * certificate unless the gateway runs `--insecure`, so credentials never travel in clear.
 */
export function startExportListener(
  config: Pick<GatewayConfig, "exportListen" | "insecure" | "tlsCert" | "tlsKey">,
  receiver: OtlpReceiver,
  hc: Route,
): HttpApi | undefined {
  if (!config.exportListen) return undefined;
  const tls =
    config.insecure || !config.tlsCert || !config.tlsKey
      ? undefined
      : { cert: readFileSync(config.tlsCert, "utf8"), key: readFileSync(config.tlsKey, "utf8") };
  return startHttpApi(
    config.exportListen,
    { "/hc": hc },
    { post: receiver.routes(), what: "agent exports (--export-listen)", ...(tls ? { tls } : {}) },
  );
}
