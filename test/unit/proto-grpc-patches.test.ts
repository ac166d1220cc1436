/**
 * The grpc-js patches (src/proto/service.ts, GRPC_PATCHES): they take with the grpc-js this
 * repository pins, and one that does not is warned of at start and shown in both roles'
 * /metrics rather than passing unnoticed.
 */
import { describe, expect, test } from "bun:test";
import { agentMetricFamilies } from "../../src/agent/status/agent-metrics.ts";
import { renderPrometheusText } from "../../src/metrics/prometheus-text.ts";
import {
  GRPC_PATCHES,
  missingGrpcPatches,
  warnMissingGrpcPatches,
} from "../../src/proto/service.ts";
import { gatewayMetricsText, snapshot, status } from "../fixtures/status/snapshot.ts";
import { captureLogs } from "../support/log-capture.ts";

const ONE_MISSING = { pre_framing: false, metadata_release: true } as const;

describe("GRPC_PATCHES", () => {
  test("every patch takes with the installed grpc-js (an upgrade that moves its internals fails here)", () => {
    expect(GRPC_PATCHES).toEqual({ pre_framing: true, metadata_release: true });
    expect(missingGrpcPatches()).toEqual([]);
  });

  test("names the patches that did not take", () => {
    expect(missingGrpcPatches(ONE_MISSING)).toEqual(["pre_framing"]);
    expect(missingGrpcPatches({ pre_framing: false, metadata_release: false })).toEqual([
      "pre_framing",
      "metadata_release",
    ]);
  });

  test("one warning at start names what is missing; none when all took", () => {
    const logs = captureLogs();
    warnMissingGrpcPatches(logs.logger, { pre_framing: false, metadata_release: false });
    expect(logs.records()).toHaveLength(1);
    expect(logs.records()[0]).toMatchObject({
      level: "warn",
      msg: expect.stringMatching(/^grpc-js internals moved/),
      patches: "pre_framing,metadata_release",
    });

    const quiet = captureLogs();
    warnMissingGrpcPatches(quiet.logger, GRPC_PATCHES);
    expect(quiet.lines).toHaveLength(0);
  });
});

describe("bgproxy_*_grpc_patch_applied", () => {
  test("the agent shows each patch as 1 or 0", () => {
    const text = renderPrometheusText(
      agentMetricFamilies(snapshot({ status: status({ grpcPatches: ONE_MISSING }) })),
    );
    expect(text).toContain('bgproxy_agent_grpc_patch_applied{patch="pre_framing"} 0');
    expect(text).toContain('bgproxy_agent_grpc_patch_applied{patch="metadata_release"} 1');
  });

  test("the gateway shows each patch as 1 or 0, with its name", () => {
    const text = gatewayMetricsText({ gateway: "gw-1", grpcPatches: ONE_MISSING });
    expect(text).toContain(
      'bgproxy_gateway_grpc_patch_applied{gateway="gw-1",patch="pre_framing"} 0',
    );
    expect(text).toContain(
      'bgproxy_gateway_grpc_patch_applied{gateway="gw-1",patch="metadata_release"} 1',
    );
    expect(gatewayMetricsText()).not.toContain("grpc_patch_applied");
  });
});
