import type { AdjRibIn, RibEntry } from "../collector/adj-rib-in.ts";
import { mrtChunks } from "../collector/mrt-snapshot.ts";
import type { RibDirectory } from "../collector/rib-directory.ts";
import { RibSnapshot } from "../collector/rib-snapshot.ts";
import { storedAttributesView } from "../collector/stored-attributes.ts";
import { jsonResponse } from "../core/http-server.ts";
import type { Route } from "./http-api.ts";
import { type DeviceMatch, type RouteView, renderLookupPage } from "./lookup-page.ts";

/**
 * The collector's routes over HTTP (read-only, rendered from the RIBs on each request):
 *
 *   GET /api/devices/{name}/routes?prefix=P            exact match
 *   GET /api/devices/{name}/routes?prefix=P&longest    most specific route covering P
 *   GET /api/devices/{name}/routes?prefix=P&longer     P and every more specific (limit=N)
 *   GET /api/devices/{name}/mrt                        MRT TABLE_DUMP_V2 snapshot
 *   GET /api/lookup?ip=A                               longest match in every device's RIB
 *   GET /lookup?q=A|P                                  the same as an HTML page
 */
export interface RouteApiSources {
  readonly ribs: RibDirectory;
  readonly collectorId: string;
  readonly version: string;
  readonly now: () => number;
}

const DEFAULT_LONGER_LIMIT = 1000;

function routeView(rib: AdjRibIn, e: RibEntry): RouteView {
  return { prefix: e.prefix, ...storedAttributesView(rib.attributes.get(e.attrs)) };
}

function badRequest(message: string, pretty: boolean): Response {
  return jsonResponse({ error: message }, pretty, 400);
}

/** Longest match of `query` (address or prefix) in every attached RIB. */
export function lookupAll(ribs: RibDirectory, query: string): DeviceMatch[] {
  return ribs.all().map((s) => {
    const e = s.rib.longest(query);
    return { device: s.device, route: e ? routeView(s.rib, e) : null };
  });
}

function deviceRoutes(src: RouteApiSources, name: string, url: URL, pretty: boolean): unknown {
  const source = src.ribs.get(name);
  if (!source) return jsonResponse({ error: `no routes for device ${name}` }, pretty, 404);
  const prefix = url.searchParams.get("prefix");
  if (!prefix) return badRequest("prefix is required: ?prefix=192.0.2.0/24", pretty);
  const { rib } = source;
  try {
    if (url.searchParams.has("longer")) {
      const limit = Number(url.searchParams.get("limit") ?? DEFAULT_LONGER_LIMIT);
      if (!Number.isInteger(limit) || limit < 1) return badRequest("limit must be >= 1", pretty);
      const found = rib.longer(prefix, limit + 1);
      return {
        device: name,
        prefix,
        match: "longer",
        routes: found.slice(0, limit).map((e) => routeView(rib, e)),
        truncated: found.length > limit,
      };
    }
    const longest = url.searchParams.has("longest");
    const e = longest ? rib.longest(prefix) : rib.exact(prefix);
    return {
      device: name,
      prefix,
      match: longest ? "longest" : "exact",
      routes: e ? [routeView(rib, e)] : [],
    };
  } catch (err) {
    return badRequest((err as Error).message, pretty);
  }
}

function mrtSnapshot(src: RouteApiSources, name: string, pretty: boolean): Response {
  const source = src.ribs.get(name);
  if (!source) return jsonResponse({ error: `no routes for device ${name}` }, pretty, 404);
  // Streamed from a snapshot, a chunk per pull: a full table does not stall the gateway.
  const snap = new RibSnapshot(source.rib);
  const it = mrtChunks(source, snap, {
    collectorId: src.collectorId,
    now: Math.floor(src.now() / 1000),
  });
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const r = it.next();
      if (r.done || !snap.valid) {
        snap.release();
        if (r.done) controller.close();
        else controller.error(new Error("the session ended during the snapshot"));
      } else {
        controller.enqueue(r.value);
      }
    },
    cancel() {
      snap.release();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${encodeURIComponent(name)}.mrt"`,
      "cache-control": "no-store",
    },
  });
}

/** The fixed routes and the matcher for /api/devices/{name}/... */
export function routeApi(src: RouteApiSources): {
  routes: Record<string, Route>;
  match: (pathname: string) => Route | undefined;
} {
  const routes: Record<string, Route> = {
    "/api/lookup": (req) => {
      const url = new URL(req.url);
      const pretty = url.searchParams.has("pretty");
      const ip = url.searchParams.get("ip");
      if (!ip) return badRequest("ip is required: ?ip=192.0.2.1", pretty);
      try {
        return { ip, matches: lookupAll(src.ribs, ip) };
      } catch (err) {
        return badRequest((err as Error).message, pretty);
      }
    },
    "/lookup": (req) => {
      const q = (new URL(req.url).searchParams.get("q") ?? "").trim();
      let matches: DeviceMatch[] = [];
      let error: string | undefined;
      if (q) {
        try {
          matches = lookupAll(src.ribs, q);
        } catch (err) {
          error = (err as Error).message;
        }
      }
      return new Response(renderLookupPage({ version: src.version, query: q, matches, error }), {
        status: error ? 400 : 200,
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
      });
    },
  };
  const match = (pathname: string): Route | undefined => {
    const m = /^\/api\/devices\/([^/]+)\/(routes|mrt)$/.exec(pathname);
    if (!m) return undefined;
    const name = decodeURIComponent(m[1] as string);
    return (req) => {
      const url = new URL(req.url);
      const pretty = url.searchParams.has("pretty");
      return m[2] === "mrt" ? mrtSnapshot(src, name, pretty) : deviceRoutes(src, name, url, pretty);
    };
  };
  return { routes, match };
}
