import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from "@upload-gateway/contract";
import { resolveWebhookTarget } from "./webhook-target";

export interface WebhookSendOptions {
  allowPrivateNetworks: boolean;
  timeoutMs: number;
}

/** A delivery's outcome: delivered (a 2xx), or why not (for the log and the retry). */
export type SendResult = { ok: true; status: number } | { ok: false; reason: string; status?: number };

/** Bytes of a receiver's reply read at most (it is only logged). */
const MAX_REPLY_BYTES = 4096;

/**
 * POSTs one signed delivery. The host is resolved and checked first, and the connection goes to the checked address
 * (TLS still verifies the URL's host name). Redirects are not followed (a 3xx is a failure): following one would reach
 * an address nobody checked. The whole exchange has one deadline.
 */
export async function sendWebhook(
  url: string,
  secret: string,
  body: string,
  options: WebhookSendOptions,
): Promise<SendResult> {
  const target = new URL(url);
  let resolved;
  try {
    resolved = await resolveWebhookTarget(target, options.allowPrivateNetworks);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const signature = await signWebhook(secret, body, Math.floor(Date.now() / 1000));
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [resolved]);
    } else callback(null, resolved.address, resolved.family);
  };
  const client = target.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    const request = client.request(
      target,
      {
        method: "POST",
        lookup: pinned,
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "upload-gateway-webhooks",
          [WEBHOOK_SIGNATURE_HEADER]: signature,
        },
        timeout: options.timeoutMs,
      },
      (response) => {
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_REPLY_BYTES) response.destroy();
        });
        const status = response.statusCode ?? 0;
        const finish = () => {
          clearTimeout(deadline);
          resolve(
            status >= 200 && status < 300
              ? { ok: true, status }
              : { ok: false, status, reason: `the receiver answered ${status}` },
          );
        };
        response.on("end", finish);
        response.on("close", finish);
        response.on("error", finish);
      },
    );
    const deadline = setTimeout(
      () => request.destroy(new Error(`no reply within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on("timeout", () => request.destroy(new Error(`no reply within ${options.timeoutMs} ms`)));
    request.on("error", (error) => {
      clearTimeout(deadline);
      resolve({ ok: false, reason: error.message });
    });
    request.end(body);
  });
}
