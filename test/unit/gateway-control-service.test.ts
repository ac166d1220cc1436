import { describe, expect, test } from "bun:test";
import {
  BLOCK_TTL_SECONDS,
  controlAnswer,
  PROCEED_TTL_SECONDS,
} from "../../src/gateway/control-service.ts";
import { ControlAction, type ControlRequest } from "../../src/proto/messages.ts";

const request: ControlRequest = {
  proto: "BGP",
  deviceIp: "2001:db8::1",
  devicePort: 40_001,
  proxyIp: "198.51.100.1",
  proxyPort: 1179,
  action: ControlAction.UNSPECIFIED,
};
const tuple = {
  proto: "BGP",
  deviceIp: "2001:db8::1",
  devicePort: 40_001,
  proxyIp: "198.51.100.1",
  proxyPort: 1179,
};

describe("controlAnswer", () => {
  test("a keepalive is echoed, with nothing cached and no device data", () => {
    const ka: ControlRequest = {
      proto: "",
      deviceIp: "",
      devicePort: 0,
      proxyIp: "",
      proxyPort: 0,
      action: ControlAction.KEEPALIVE,
    };
    const r = controlAnswer(ka, { id: 9, name: "x", md5Key: "k" }, 5);
    expect(r).toMatchObject({
      action: ControlAction.KEEPALIVE,
      ttlSeconds: 0,
      ttlCounter: 0,
      deviceId: 0,
      companyId: 0,
      deviceName: "",
    });
    expect(r.tcpMd5).toHaveLength(0);
  });

  test("an unknown device is blocked for 1200 s, echoing the 5-tuple", () => {
    expect(BLOCK_TTL_SECONDS).toBe(1200);
    const r = controlAnswer(request, undefined, 1001);
    expect(r).toEqual({
      ...tuple,
      action: ControlAction.BLOCK_IP,
      ttlSeconds: 1200,
      ttlCounter: 0,
      metadata: [],
      companyId: 0,
      deviceId: 0,
      deviceName: "",
      tcpMd5: new Uint8Array(0),
    });
  });

  test("a known device gets its id, name, company, MD5 key bytes and a 60 s TTL", () => {
    expect(PROCEED_TTL_SECONDS).toBe(60);
    const r = controlAnswer(request, { id: 17, name: "edge-r1", md5Key: "s3cr3t-ü" }, 1001);
    expect(r).toMatchObject({
      ...tuple,
      action: ControlAction.UNSPECIFIED,
      ttlSeconds: 60,
      ttlCounter: 0,
      companyId: 1001,
      deviceId: 17,
      deviceName: "edge-r1",
      metadata: [],
    });
    expect([...r.tcpMd5]).toEqual([...Buffer.from("s3cr3t-ü", "utf8")]);
    expect(r.tcpMd5).toHaveLength(9);
  });

  test("a known device without a key gets an empty key", () => {
    const r = controlAnswer(request, { id: 17, name: "edge-r1" }, 1001);
    expect(r.action).toBe(ControlAction.UNSPECIFIED);
    expect(r.tcpMd5).toHaveLength(0);
    expect(controlAnswer(request, { id: 17, name: "r", md5Key: "" }, 1).tcpMd5).toHaveLength(0);
  });

  test("answers do not share their metadata list", () => {
    const a = controlAnswer(request, undefined, 1);
    const b = controlAnswer(request, undefined, 1);
    a.metadata.push({ key: "k", val: ["v"] });
    expect(b.metadata).toEqual([]);
  });
});
