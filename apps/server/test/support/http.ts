import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { errorEnvelopeSchema, type ErrorCode } from "@upload-gateway/contract";
import { expect } from "vitest";

export interface JsonReply {
  status: number;
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
}

/** Sends a request through Fastify's `inject` (no socket) and parses the JSON reply. */
export async function call(
  app: NestFastifyApplication,
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH",
  url: string,
  options: { body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<JsonReply> {
  const reply = await app.inject({
    method,
    url,
    headers: {
      ...(options.body !== undefined || options.rawBody !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    ...(options.rawBody !== undefined
      ? { payload: options.rawBody }
      : options.body !== undefined
        ? { payload: JSON.stringify(options.body) }
        : {}),
  });
  let body: unknown;
  try {
    body = reply.json();
  } catch {
    body = reply.body;
  }
  return { status: reply.statusCode, body, headers: reply.headers };
}

/** Asserts nothing; returns the fields an error envelope names, for compact expectations. */
export function fieldsOf(body: { errorDetails?: { field?: string }[] }): (string | undefined)[] {
  return (body.errorDetails ?? []).map((d) => d.field);
}

/** Asserts that a reply is the error envelope, with `status` as both HTTP status and `statusCode`, and `code` first. */
export function expectErrorEnvelope(
  reply: { status: number | undefined; body: any },
  status: number,
  code: ErrorCode,
): void {
  expect(reply.status).toBe(status);
  expect(errorEnvelopeSchema.safeParse(reply.body).error?.issues ?? []).toEqual([]);
  expect(reply.body).toMatchObject({ success: false, statusCode: status });
  expect(reply.body.errorDetails[0].code).toBe(code);
}
