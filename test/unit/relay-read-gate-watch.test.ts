import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { systemClock } from "../../src/core/clock.ts";
import { gateCallReads, ReadGateWatch } from "../../src/relay/http2-read-gate.ts";
import { gatewayMetricsText } from "../fixtures/status/snapshot.ts";
import { captureLogs } from "../support/log-capture.ts";

const WARNING = /^cannot gate HTTP\/2 reads of a Data stream/;
const onBun = () => true;

/** A server-side HTTP/2 stream as findHttp2Stream recognises it, with a "resume" handler. */
function fakeStream(resume: (...args: unknown[]) => void): EventEmitter {
  const stream = Object.assign(new EventEmitter(), { respond() {}, rstCode: undefined });
  stream.on("resume", resume);
  stream.on("pause", () => {});
  return stream;
}

function streamOnResume(): void {}

describe("gateCallReads tells a ReadGateWatch what it did", () => {
  test("a call whose HTTP/2 stream cannot be found: counted every time, warned once", () => {
    const logs = captureLogs();
    const watch = new ReadGateWatch(logs.logger);
    // The link names a grpc-js upgrade could rename: nothing reaches the stream any more.
    const renamed = () => ({ _readableState: { highWaterMark: 16 }, renamedStream: {} });
    expect(gateCallReads(renamed(), watch, systemClock, onBun)).toBe("no-stream");
    expect(gateCallReads(renamed(), watch, systemClock, onBun)).toBe("no-stream");
    expect(watch.missed).toBe(2);
    const warnings = logs.find(WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe("warn");
    expect(warnings[0]?.reason).toBe("no-stream");
  });

  test("Bun's resume handler renamed: counted as no-native-resume", () => {
    const logs = captureLogs();
    const watch = new ReadGateWatch(logs.logger);
    const call = { call: { stream: fakeStream(function somethingElse() {}) } };
    expect(gateCallReads(call, watch, systemClock, onBun)).toBe("no-native-resume");
    expect(watch.missed).toBe(1);
    expect(logs.find(WARNING)[0]?.reason).toBe("no-native-resume");
  });

  test("a gated call is neither counted nor warned about, and the gate replaced the handler", () => {
    const logs = captureLogs();
    const watch = new ReadGateWatch(logs.logger);
    const stream = fakeStream(streamOnResume);
    const call = { _readableState: { highWaterMark: 16 }, call: { stream } };
    expect(gateCallReads(call, watch, systemClock, onBun)).toBe("gated");
    expect(stream.listeners("resume")).not.toContain(streamOnResume);
    expect(call._readableState.highWaterMark).toBe(1);
    expect(watch.missed).toBe(0);
    expect(logs.find(WARNING)).toHaveLength(0);
  });

  test("under another runtime there is nothing to gate: not a miss", () => {
    const logs = captureLogs();
    const watch = new ReadGateWatch(logs.logger);
    expect(gateCallReads({}, watch, systemClock, () => false)).toBe("not-bun");
    expect(watch.missed).toBe(0);
    expect(logs.lines).toHaveLength(0);
  });

  test("by default the runtime check knows Bun (which runs these tests)", () => {
    expect(gateCallReads({}, undefined, systemClock)).toBe("no-stream");
  });
});

describe("the gateway's metric", () => {
  test("bgproxy_gateway_read_gates_missed_total carries the count", () => {
    const text = gatewayMetricsText({ readGatesMissed: 3 });
    expect(text).toContain("bgproxy_gateway_read_gates_missed_total 3");
  });
});
