import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook, WebhookVerificationError } from "./webhooks";

const secret = "whsec_test_0123456789abcdef";
const event = {
  id: "evt_0123456789abcdef0123456789abcdef",
  type: "upload.completed",
  createdAt: "2026-01-01T00:00:00.000Z",
  data: {
    projectId: "films",
    requestKey: "k",
    uploadId: "u",
    fileName: "a.mp4",
    mimeType: "video/mp4",
    size: 5,
    metadata: { a: "b" },
  },
};
const body = JSON.stringify(event);
const now = 1_767_225_600_000; // ms
const t = now / 1000;

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return (error as WebhookVerificationError).reason;
}

describe("webhook signatures", () => {
  it("signs t=<seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>, as any HMAC library computes it", async () => {
    const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
    expect(await signWebhook(secret, body, t)).toBe(`t=${t},v1=${expected}`);
  });

  it("verifies a good delivery and returns its event, from a string or the raw bytes", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await verifyWebhook(secret, header, body, { now })).toEqual(event);
    expect(await verifyWebhook(secret, header, new TextEncoder().encode(body), { now: now + 299_000 })).toEqual(event);
    // A rotated secret: the gateway may send several v1 signatures; one match is enough.
    const other = (await signWebhook("another-secret-0123456789", body, t)).split(",")[1];
    expect(await verifyWebhook(secret, `${header},${other}`, body, { now })).toEqual(event);
  });

  it("refuses a wrong secret, a changed body, a changed time, a missing or malformed header", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await refusal(verifyWebhook("not-the-secret-0123456789", header, body, { now }))).toBe("bad-signature");
    expect(await refusal(verifyWebhook(secret, header, body.replace('"size":5', '"size":6'), { now }))).toBe(
      "bad-signature",
    );
    expect(await refusal(verifyWebhook(secret, header.replace(`t=${t}`, `t=${t + 1}`), body, { now }))).toBe(
      "bad-signature",
    );
    expect(await refusal(verifyWebhook(secret, undefined, body, { now }))).toBe("malformed-header");
    expect(await refusal(verifyWebhook(secret, "v1=abc", body, { now }))).toBe("malformed-header");
    expect(await refusal(verifyWebhook(secret, `t=${t}`, body, { now }))).toBe("malformed-header");
    expect(await refusal(verifyWebhook(secret, `t=${t},t=${t},${header.split(",")[1]}`, body, { now }))).toBe(
      "malformed-header",
    );
  });

  it("refuses an old (replayed) or future signature outside the tolerance", async () => {
    const header = await signWebhook(secret, body, t);
    expect(await refusal(verifyWebhook(secret, header, body, { now: now + 301_000 }))).toBe("too-old");
    expect(await refusal(verifyWebhook(secret, header, body, { now: now - 301_000 }))).toBe("too-old");
    expect(await refusal(verifyWebhook(secret, header, body, { now: now + 31_000, toleranceSeconds: 30 }))).toBe(
      "too-old",
    );
  });

  it("refuses a correctly signed body that is not an event", async () => {
    const notEvent = JSON.stringify({ hello: "world" });
    expect(await refusal(verifyWebhook(secret, await signWebhook(secret, notEvent, t), notEvent, { now }))).toBe(
      "bad-body",
    );
  });
});
