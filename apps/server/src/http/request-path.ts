import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";

/** The parts of the gateway's URL space that policies tell apart (under its path, when it is mounted under one). */
export type PathArea = "api" | "storage" | "health" | "docs" | "other";

/** A request's path as every policy decides on it, and the area it is in. */
export interface RequestPath {
  /** Decoded, `\` read as `/`, without empty segments, with `.` and `..` resolved: `/%61pi//x/../p` is `/api/p`. */
  path: string;
  /** The area of the route the router matched; for no route or a catch-all (the demo page's), the path's. */
  area: PathArea;
}

const AREAS = new Set<PathArea>(["api", "storage", "health", "docs"]);
/** An absolute-form request target (`GET http://host/api/... HTTP/1.1`): the path is what follows the authority. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Percent-decoding passes at most: `%2561pi` is `/%61pi` to the router, and `/api` to a proxy that decodes again. */
const MAX_DECODINGS = 4;
const ASCII_ESCAPE = /%([0-7][0-9A-Fa-f])/g;

/**
 * The path of a request target, normalized once for every decision: percent-escapes decoded (`%2F` too, and again
 * while any is left, so that no spelling of `/api/` reads as something else to us or to a proxy in front),
 * backslashes read as slashes, empty segments dropped (`//api`), dot segments resolved (`/x/../api`). Never throws:
 * escapes that are not ASCII stay as they are (no area's name has any).
 */
export function normalizePath(target: string): string {
  let path = target.replace(ABSOLUTE_FORM, "");
  const end = path.search(/[?#]/);
  if (end >= 0) path = path.slice(0, end);
  for (let pass = 0; pass < MAX_DECODINGS && path.includes("%"); pass++) {
    const decoded = path.replace(ASCII_ESCAPE, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (decoded === path) break;
    path = decoded;
  }
  const segments: string[] = [];
  for (const segment of path.replace(/\\/g, "/").split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join("/")}`;
}

/**
 * The area `path` (normalized) is in, for a gateway mounted under `prefix` ("" or "/media"): its first segment below
 * the prefix, compared without case, `;parameters` or control characters (`/API/...`, `/api;x/...` and `/api%00/...`
 * are the API's, and answer the API's 404, never the page).
 */
export function areaOf(path: string, prefix: string): PathArea {
  const segments = path.split("/").slice(1).map(segmentName);
  const mount = normalizePath(prefix)
    .split("/")
    .filter((s) => s !== "")
    .map(segmentName);
  if (!mount.every((segment, i) => segments[i] === segment)) return "other";
  const first = segments[mount.length] as PathArea | undefined;
  return first !== undefined && AREAS.has(first) ? first : "other";
}

function segmentName(segment: string): string {
  // eslint-disable-next-line no-control-regex
  return (segment.split(";")[0] ?? "").replace(/[\u0000-\u0020\u007f]/g, "").toLowerCase();
}

/** The request path of each request, computed on arrival (keyed by Node's request: the same under every wrapper). */
const paths = new WeakMap<IncomingMessage, RequestPath>();

/**
 * Computes every request's `RequestPath` on arrival, before any other hook: the rate limit, CORS, security headers
 * and the demo page's fallback all decide on it, never on the raw URL. Register first on the root instance.
 */
export function registerRequestPaths(app: FastifyInstance, prefix: string): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const path = normalizePath(request.url);
    // The router decodes escapes too (`/%61pi/...` is the API's route): a route of an area decides. The page's
    // catch-all (`/*`) says nothing about where a path belongs, and `//api/...` or `/API/...` match only that.
    const pattern = request.routeOptions.url;
    const routed = pattern === undefined ? "other" : areaOf(pattern, prefix);
    paths.set(request.raw, { path, area: routed === "other" ? areaOfTarget(request.url, path, prefix) : routed });
    done();
  });
}

/**
 * The `RequestPath` of a request: the one computed on its arrival, else (an app without `registerRequestPaths`)
 * computed now for the root.
 */
export function requestPath(request: { raw: IncomingMessage; url: string }): RequestPath {
  return paths.get(request.raw) ?? requestPathOf(request.url, "");
}

function requestPathOf(target: string, prefix: string): RequestPath {
  const path = normalizePath(target);
  return { path, area: areaOfTarget(target, path, prefix) };
}

/**
 * The area of a request target that no route of an area matched: the area its normalised `path` is in, else the one
 * its path is in as a URL parser reads it (dot segments resolved, `%2F` left as it is). Either names the area, so that
 * a spelling that leaves an area only once decoded (`/health/..%2F..%2Fetc`) is that area's 404, never the page.
 */
function areaOfTarget(target: string, path: string, prefix: string): PathArea {
  const decoded = areaOf(path, prefix);
  if (decoded !== "other") return decoded;
  try {
    return areaOf(new URL(target.replace(ABSOLUTE_FORM, ""), "http://gateway.invalid").pathname, prefix);
  } catch {
    return "other";
  }
}
