import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { throwawayGateways } from "./support/gateway";

/** Who a request is counted against: attacks on the rate limit's accounting, each a sequence that got through. */

const KEY = "key-minter-0123456789abcdef";
const OTHER_KEY = "key-second-0123456789abcdef";
const gateways = throwawayGateways();
afterEach(() => gateways.closeAll());

const gateway = (projects: unknown = defaultProjects) =>
  gateways.start({ projects, env: { RATE_LIMIT_PER_MINUTE: "6" } });
const defaultProjects = {
  projects: [{ id: "films" }],
  apiKeys: [
    { name: "minter", sha256: sha256Hex(KEY), projects: ["*"] },
    { name: "second", sha256: sha256Hex(OTHER_KEY), projects: ["*"] },
  ],
};

async function mint(gw: NestFastifyApplication, key: string, body: object = {}): Promise<string> {
  const reply = await gw.inject({
    method: "POST",
    url: "/api/projects/films/upload-tokens",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    payload: JSON.stringify(body),
  });
  expect(reply.statusCode).toBe(200);
  return reply.json().result.token as string;
}

/** A call any credential may make (a token gets 404 for an unknown upload): it is counted whatever it answers. */
const status = async (gw: NestFastifyApplication, bearer: string) =>
  (
    await gw.inject({
      method: "GET",
      url: "/api/projects/films/uploads/no-such-upload-key-0123",
      headers: { authorization: `Bearer ${bearer}` },
    })
  ).statusCode;

describe("rate-limit accounting", () => {
  it("counts every token a key mints without a subject in one budget, apart from the key's own calls", async () => {
    const gw = await gateway();
    const tokens = [await mint(gw, KEY), await mint(gw, KEY), await mint(gw, KEY)];
    // Taking turns, three tokens get the budget of one: 6 calls, then 429 for each of them.
    const statuses = [];
    for (let i = 0; i < 9; i++) statuses.push(await status(gw, tokens[i % 3]!));
    expect(statuses.slice(0, 6).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(6)).toEqual([429, 429, 429]);
    // A token minted later by the same key shares the spent budget; the key itself (3 mints so far) goes on, and so
    // do the tokens another key mints.
    const late = await mint(gw, KEY);
    expect(await status(gw, late)).toBe(429);
    expect(await status(gw, KEY)).not.toBe(429);
    expect(await status(gw, await mint(gw, OTHER_KEY))).not.toBe(429);
  });

  it("counts tokens minted for a subject per subject, whichever key minted them", async () => {
    const gw = await gateway();
    const alice = [await mint(gw, KEY, { subject: "alice" }), await mint(gw, OTHER_KEY, { subject: "alice" })];
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push(await status(gw, alice[i % 2]!));
    expect(statuses.slice(6)).toEqual([429, 429]);
    expect(await status(gw, await mint(gw, KEY, { subject: "bob" }))).not.toBe(429);
  });

  it("refuses a projects file that gives two keys one name (their budgets were one)", async () => {
    const projects = {
      projects: [{ id: "films" }],
      apiKeys: [
        { name: "ci", sha256: sha256Hex(KEY), projects: ["*"] },
        { name: "ci", sha256: sha256Hex(OTHER_KEY), projects: ["*"] },
      ],
    };
    await expect(gateway(projects)).rejects.toThrow(/API key name "ci" is used twice/);
  });
});
