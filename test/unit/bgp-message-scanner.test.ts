import { describe, expect, test } from "bun:test";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { BgpMessageScanner } from "../../src/bgp/message-scanner.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { prng } from "../support/prng.ts";

function messages(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    out.push(
      i % 7 === 0
        ? encodeKeepalive()
        : encodeUpdate({
            origin: 0,
            asPath: [65001, i],
            nextHop: "10.0.0.1",
            nlri: Array.from({ length: 1 + (i % 300) }, (_, j) => `10.${i}.${j % 256}.0/24`),
          }),
    );
  }
  return out;
}

describe("BgpMessageScanner", () => {
  test("hands every message over whole and in order, however the stream is cut", () => {
    const list = messages();
    const stream = Buffer.concat(list);
    const rand = prng(3);
    for (const maxCut of [1, 7, 19, 20, 4096, 70_000]) {
      const seen: string[] = [];
      const scanner = new BgpMessageScanner();
      for (let pos = 0; pos < stream.length; ) {
        const n = Math.max(1, Math.floor(rand() * maxCut));
        scanner.push(stream.subarray(pos, pos + n), (type, buf, start, end) => {
          seen.push(`${type}:${Buffer.from(buf.subarray(start - 19, end)).toString("hex")}`);
        });
        pos += n;
      }
      expect(seen).toEqual(list.map((m) => `${m[18]}:${Buffer.from(m).toString("hex")}`));
    }
  });

  test("a length below 19 or a broken marker throws, also when split", () => {
    const short = Uint8Array.from(encodeKeepalive());
    short[17] = 3;
    expect(() => new BgpMessageScanner().push(short, () => {})).toThrow();
    const marker = Uint8Array.from(encodeKeepalive());
    marker[3] = 0;
    expect(() => new BgpMessageScanner().push(marker, () => {})).toThrow();
    const split = new BgpMessageScanner();
    split.push(marker.subarray(0, 5), () => {});
    expect(() => split.push(marker.subarray(5), () => {})).toThrow();
  });
});
