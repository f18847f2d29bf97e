import { errorEnvelope, ok } from "@upload-gateway/contract";
import { describe, expect, it, vi } from "vitest";
import { createApiClient } from "./api-client";
import { UploadGatewayError } from "./errors";

const expired = () => errorEnvelope([{ code: "TOKEN_EXPIRED" }]);
const json = (body: unknown) => new Response(JSON.stringify(body), { status: (body as { statusCode: number }).statusCode });

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
    await expect(createApiClient({ baseUrl: "http://gw.test", apiKey: "k", fetch: withKey.fetch }).list("p")).rejects.toThrow();
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
