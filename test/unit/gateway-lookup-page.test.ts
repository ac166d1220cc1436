import { describe, expect, test } from "bun:test";
import { renderLookupPage } from "../../src/gateway/lookup-page.ts";
import { renderStatusPage } from "../../src/gateway/status-page.ts";

describe("prefix search page", () => {
  test("one row per device: route with path, next hop and communities, or 'no route'; values escaped", () => {
    const html = renderLookupPage({
      version: "1.2.3",
      query: "198.51.100.7",
      matches: [
        {
          device: "edge-<r1>",
          route: {
            prefix: "198.51.100.0/24",
            origin: "igp",
            asPath: [65001, 174],
            nextHop: "10.0.0.1",
            communities: ["174:1"],
            largeCommunities: ["65001:1:2"],
            extendedCommunities: ["0002fde900000007"],
          },
        },
        { device: "edge-r2", route: null },
      ],
    });
    expect(html).toContain(
      '<tr class="route"><td class="device">edge-&lt;r1&gt;</td><td class="prefix mono">198.51.100.0/24</td><td class="aspath mono">65001 174</td><td class="nexthop mono">10.0.0.1</td><td class="origin">igp</td><td class="communities mono">174:1 65001:1:2 ext:0002fde900000007</td></tr>',
    );
    expect(html).toContain(
      '<tr class="route none"><td class="device">edge-r2</td><td class="empty" colspan="5">no route</td></tr>',
    );
    expect(html).toContain('value="198.51.100.7"');
  });

  test("a bad query is shown as an error, escaped; the status page carries the form", () => {
    const html = renderLookupPage({
      version: "1",
      query: '"><script>',
      matches: [],
      error: 'invalid "<x>"',
    });
    expect(html).not.toContain("<script>");
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;"');
    expect(html).toContain('<p class="error">invalid &quot;&lt;x&gt;&quot;</p>');
    const status = renderStatusPage({ version: "1", now: 0, devices: [], agents: [] });
    expect(status).toContain('<form class="search" action="/lookup" method="get">');
  });
});
