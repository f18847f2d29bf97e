import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { areaOf, normalizePath, requestPath } from "./request-path";

describe("normalizePath", () => {
  it.each([
    ["/api/projects/p/uploads?limit=1", "/api/projects/p/uploads"],
    ["/%61pi/projects/p", "/api/projects/p"],
    ["/ap%69/projects/p", "/api/projects/p"],
    ["/%2561pi/x", "/api/x"],
    ["//api//projects///p/", "/api/projects/p"],
    ["/x/../api/./p", "/api/p"],
    ["/x/%2e%2e/api/%2E/p", "/api/p"],
    ["/../../api", "/api"],
    ["/api%2Fprojects%2fp", "/api/projects/p"],
    ["/api\\projects\\p", "/api/projects/p"],
    ["http://host:8080/api/p?x=1", "/api/p"],
    ["/api/p#frag", "/api/p"],
    ["/caf%C3%A9/%zz/%", "/caf%C3%A9/%zz/%"],
    ["", "/"],
  ])("%s → %s", (target, path) => {
    expect(normalizePath(target)).toBe(path);
  });
});

describe("areaOf", () => {
  it.each([
    ["/api/projects/p", "", "api"],
    ["/API/projects/p", "", "api"],
    ["/Api", "", "api"],
    ["/api;jsessionid=1/projects", "", "api"],
    ["/api\u0000/x", "", "api"],
    ["/storage/objects/k", "", "storage"],
    ["/STORAGE/objects/k", "", "storage"],
    ["/health/live", "", "health"],
    ["/docs", "", "docs"],
    ["/docs-elsewhere", "", "other"],
    ["/apis/x", "", "other"],
    ["/", "", "other"],
    ["/uploads/api", "", "other"],
    ["/media/api/projects/p", "/media", "api"],
    ["/MEDIA/storage/objects/k", "/media", "storage"],
    ["/api/projects/p", "/media", "other"],
    ["/media", "/media", "other"],
  ])("%s under %j → %s", (path, prefix, area) => {
    expect(areaOf(path, prefix)).toBe(area);
  });
});

describe("requestPath of a target no route matched", () => {
  const areaOfUrl = (url: string) => requestPath({ raw: {} as IncomingMessage, url }).area;

  // A fuzz run found /health/..%2F..%2Fetc%2Fpasswd served the demo page: decoded, its dot segments leave /health.
  it.each([
    ["/health/..%2F..%2Fetc%2Fpasswd", "health"],
    ["/api/..%2Fx", "api"],
    ["/storage/..%2f..%2f", "storage"],
    ["/docs/%2e%2e%2Fpage", "docs"],
    ["/%61pi/x", "api"],
    ["//api/x", "api"],
    ["/api/..", "other"],
    ["/x/../api/p", "api"],
    ["/page/..%2Fapi", "api"],
    ["/", "other"],
  ])("%s is in the %s area", (url, area) => {
    expect(areaOfUrl(url)).toBe(area);
  });
});
