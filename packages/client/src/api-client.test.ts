import { errorEnvelope, ok } from "@upload-gateway/contract";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApiClient } from "./api-client";
import { CorsRefusedError, NetworkError, UploadGatewayError } from "./errors";

const expired = () => errorEnvelope([{ code: "TOKEN_EXPIRED" }]);
const json = (body: unknown) =>
  new Response(JSON.stringify(body), { status: (body as { statusCode: number }).statusCode });

/** A gateway that accepts only `valid` tokens and says TOKEN_EXPIRED for the others; records what each call sent. */
function fakeGateway(valid: (token: string) => boolean) {
  const seen: string[] = [];
  const fetch = vi.fn((_url: string | URL | Request, init?: RequestInit) => {
    const token = String((init?.headers as Record<string, string>).authorization).replace(/^Bearer /, "");
    seen.push(token);
    return Promise.resolve(json(valid(token) ? ok({ uploads: [], nextCursor: null }) : expired()));
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, seen };
}

describe("createApiClient with getToken", () => {
  it("asks for a token once and sends it as the bearer of every call", async () => {
    const gateway = fakeGateway((t) => t === "t1");
    const getToken = vi.fn(() => Promise.resolve("t1"));
    const api = createApiClient({ baseUrl: "http://gw.test", getToken, fetch: gateway.fetch });
    await api.list("p");
    await Promise.all([api.list("p"), api.list("p")]);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(gateway.seen).toEqual(["t1", "t1", "t1"]);
  });

  it("on 401 TOKEN_EXPIRED gets a new token once and sends the call again; calls racing on it share the renewal", async () => {
    let issued = 0;
    const getToken = vi.fn(() => Promise.resolve(`t${++issued}`));
    const gateway = fakeGateway((t) => t === "t2");
    const api = createApiClient({ baseUrl: "http://gw.test", getToken, fetch: gateway.fetch });
    await expect(Promise.all([api.list("p"), api.list("p"), api.list("p")])).resolves.toHaveLength(3);
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(gateway.seen.filter((t) => t === "t1")).toHaveLength(3);
    expect(gateway.seen.filter((t) => t === "t2")).toHaveLength(3);
  });

  it("does not loop: a renewed token refused again fails the call with TOKEN_EXPIRED", async () => {
    let issued = 0;
    const getToken = vi.fn(() => Promise.resolve(`t${++issued}`));
    const api = createApiClient({ baseUrl: "http://gw.test", getToken, fetch: fakeGateway(() => false).fetch });
    const error = await api.list("p").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadGatewayError);
    expect((error as UploadGatewayError).hasCode("TOKEN_EXPIRED")).toBe(true);
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it("renews nothing on other refusals, and never with an API key", async () => {
    const refuse = vi.fn(() => Promise.resolve(json(errorEnvelope([{ code: "UNAUTHORIZED" }]))));
    const getToken = vi.fn(() => Promise.resolve("t"));
    const api = createApiClient({ baseUrl: "http://gw.test", getToken, fetch: refuse });
    await expect(api.list("p")).rejects.toThrow(UploadGatewayError);
    expect(getToken).toHaveBeenCalledTimes(1);
    const withKey = fakeGateway(() => false);
    await expect(
      createApiClient({ baseUrl: "http://gw.test", apiKey: "k", fetch: withKey.fetch }).list("p"),
    ).rejects.toThrow();
    expect(withKey.seen).toEqual(["k"]);
  });

  it("asks again after getToken failed, and needs apiKey or getToken", async () => {
    const getToken = vi.fn().mockRejectedValueOnce(new Error("backend down")).mockResolvedValue("t2");
    const api = createApiClient({ baseUrl: "http://gw.test", getToken, fetch: fakeGateway((t) => t === "t2").fetch });
    await expect(api.list("p")).rejects.toThrow("backend down");
    await expect(api.list("p")).resolves.toEqual({ uploads: [], nextCursor: null });
    expect(() => createApiClient({ baseUrl: "http://gw.test" })).toThrow(/apiKey.*getToken/);
  });
});

describe("createApiClient in a page on another origin", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /**
   * A browser's fetch as the page sees it: API calls fail like CORS refusals and outages do (a bare TypeError) while
   * `refuseCalls` says so; the no-cors probe succeeds while `reachable`. Records each request as "call" or "probe".
   */
  function browserFetch(state: { reachable: boolean; refuseCalls: number }) {
    const requests: string[] = [];
    const fetch = vi.fn((url: string, init?: RequestInit) => {
      if (init?.mode === "no-cors") {
        requests.push(`probe ${url}`);
        return state.reachable
          ? Promise.resolve(new Response(null, { status: 200 }))
          : Promise.reject(new TypeError("Failed to fetch"));
      }
      requests.push("call");
      if (state.refuseCalls > 0) {
        state.refuseCalls -= 1;
        return Promise.reject(new TypeError("Failed to fetch"));
      }
      return Promise.resolve(json(ok({ uploads: [], nextCursor: null })));
    });
    return { fetch: fetch as unknown as typeof globalThis.fetch, requests };
  }

  it("names CORS_ORIGINS, allowedOrigins and the page's origin when the gateway answers but its replies are withheld", async () => {
    vi.stubGlobal("location", { origin: "https://app.example" });
    const page = browserFetch({ reachable: true, refuseCalls: Infinity });
    const api = createApiClient({ baseUrl: "https://gw.example/media/", apiKey: "k", fetch: page.fetch });
    const error = await api.list("p").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorsRefusedError);
    expect(error).toMatchObject({ origin: "https://app.example", retryable: false });
    expect((error as Error).message).toMatch(/https:\/\/app\.example.*CORS_ORIGINS.*allowedOrigins/);
    // The probe asks the liveness route under the base URL; the call is sent once more before it is called CORS.
    expect(page.requests).toEqual(["call", "probe https://gw.example/media/health/live", "call"]);
  });

  it("says no answer (retryable) when the probe gets none either: an outage is not a CORS refusal", async () => {
    vi.stubGlobal("location", { origin: "https://app.example" });
    const page = browserFetch({ reachable: false, refuseCalls: Infinity });
    const error = await createApiClient({ baseUrl: "https://gw.example", apiKey: "k", fetch: page.fetch })
      .list("p")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ retryable: true });
    expect(page.requests).toEqual(["call", "probe https://gw.example/health/live"]);
  });

  it("answers when the call sent again after a probe goes through (a connection that failed once)", async () => {
    vi.stubGlobal("location", { origin: "https://app.example" });
    const page = browserFetch({ reachable: true, refuseCalls: 1 });
    await expect(
      createApiClient({ baseUrl: "https://gw.example", apiKey: "k", fetch: page.fetch }).list("p"),
    ).resolves.toEqual({
      uploads: [],
      nextCursor: null,
    });
    expect(page.requests).toEqual(["call", "probe https://gw.example/health/live", "call"]);
  });

  it("probes nothing on the gateway's own origin or outside browsers: no answer is no answer", async () => {
    vi.stubGlobal("location", { origin: "https://gw.example" });
    const samePage = browserFetch({ reachable: true, refuseCalls: Infinity });
    await expect(
      createApiClient({ baseUrl: "https://gw.example", apiKey: "k", fetch: samePage.fetch }).list("p"),
    ).rejects.toThrow(NetworkError);
    expect(samePage.requests).toEqual(["call"]);
    vi.unstubAllGlobals();
    const node = browserFetch({ reachable: true, refuseCalls: Infinity });
    await expect(
      createApiClient({ baseUrl: "https://gw.example", apiKey: "k", fetch: node.fetch }).list("p"),
    ).rejects.toThrow(NetworkError);
    expect(node.requests).toEqual(["call"]);
  });

  it("stops at once when cancelled during the probe", async () => {
    vi.stubGlobal("location", { origin: "https://app.example" });
    const cancel = new AbortController();
    const fetch = vi.fn((_url: string | URL | Request, init?: RequestInit) => {
      if (init?.mode !== "no-cors") return Promise.reject(new TypeError("Failed to fetch"));
      cancel.abort(new DOMException("cancelled", "AbortError"));
      return Promise.resolve(new Response(null));
    });
    const api = createApiClient({ baseUrl: "https://gw.example", apiKey: "k", fetch });
    await expect(api.list("p", {}, { signal: cancel.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe("createApiClient's errors", () => {
  it("keep the reply's Retry-After, for the retries to wait as long as the gateway asks", async () => {
    const pending = errorEnvelope([{ code: "VERIFICATION_PENDING" }]);
    const fetch = vi.fn(() =>
      Promise.resolve(new Response(JSON.stringify(pending), { status: 409, headers: { "retry-after": "2" } })),
    );
    const api = createApiClient({ baseUrl: "http://gw.test", apiKey: "k", fetch });
    const error = await api.downloadUrl("p", "k1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadGatewayError);
    expect(error).toMatchObject({ status: 409, retryable: true, retryAfter: "2", codes: ["VERIFICATION_PENDING"] });
    const withoutHeader = vi.fn(() => Promise.resolve(json(errorEnvelope([{ code: "CONTENT_REJECTED" }]))));
    const refused = await createApiClient({ baseUrl: "http://gw.test", apiKey: "k", fetch: withoutHeader })
      .downloadUrl("p", "k1")
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 422, retryable: false, retryAfter: undefined });
  });
});
