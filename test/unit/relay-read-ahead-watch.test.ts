/**
 * StreamRelay limits its socket's read-ahead to one chunk through a private field of the
 * socket's readable state (`readOneChunkAhead`); when a runtime upgrade moves the mark the
 * runtime reads, the relay tells its ReadAheadWatch, which counts every such socket, warns
 * once, and feeds `bgproxy_{agent,gateway}_read_ahead_missed_total`.
 */
import { describe, expect, test } from "bun:test";
import type { Duplex } from "node:stream";
import { agentMetricFamilies } from "../../src/agent/status/agent-metrics.ts";
import { renderPrometheusText } from "../../src/metrics/prometheus-text.ts";
import { ReadAheadWatch } from "../../src/relay/read-ahead-watch.ts";
import { gatewayMetricsText, snapshot, status } from "../fixtures/status/snapshot.ts";
import { captureLogs } from "../support/log-capture.ts";
import { RecordingCall, startSinkRelay } from "../support/recording-call.ts";

const WARNING = /^cannot limit a relayed socket's read-ahead to one chunk/;

/** A socket whose runtime keeps its readable high-water mark somewhere the relay cannot reach. */
function renamedMark(socket: Duplex): Duplex {
  Object.defineProperty(socket, "readableHighWaterMark", { get: () => 65_536 });
  return socket;
}

describe("StreamRelay tells a ReadAheadWatch whether its socket reads one chunk ahead", () => {
  test("a stream socket: limited to one chunk, neither counted nor warned about", () => {
    const logs = captureLogs();
    const watch = new ReadAheadWatch(logs.logger);
    const { socket } = startSinkRelay(new RecordingCall(), { readAhead: watch });
    expect(socket.readableHighWaterMark).toBe(1);
    expect(watch.missed).toBe(0);
    expect(logs.lines).toHaveLength(0);
  });

  test("a socket whose mark moved: counted every time, warned once", () => {
    const logs = captureLogs();
    const watch = new ReadAheadWatch(logs.logger);
    for (let i = 0; i < 3; i++) {
      const relay = startSinkRelay(new RecordingCall(), { readAhead: watch }, renamedMark);
      expect(relay.socket.readableHighWaterMark).toBe(65_536);
    }
    expect(watch.missed).toBe(3);
    const warnings = logs.find(WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe("warn");
  });
});

describe("the metrics carry the count", () => {
  test("bgproxy_agent_read_ahead_missed_total", () => {
    const text = renderPrometheusText(
      agentMetricFamilies(snapshot({ status: status({ readAheadMissed: 4 }) })),
    );
    expect(text).toContain("\nbgproxy_agent_read_ahead_missed_total 4\n");
  });

  test("bgproxy_gateway_read_ahead_missed_total", () => {
    const text = gatewayMetricsText({ readAheadMissed: 3 });
    expect(text).toContain("\nbgproxy_gateway_read_ahead_missed_total 3\n");
  });
});
