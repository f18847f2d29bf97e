import { initContract } from "@ts-rest/core";
import { z } from "zod";
import { errorEnvelopeSchema, successEnvelope } from "./envelope";
import type { ErrorCode } from "./errors";

const c = initContract();

export const healthResultSchema = z.object({
  status: z.literal("ok"),
  storage: z.enum(["local", "s3"]).optional().describe("The storage backend that was checked."),
});

/** Liveness and readiness probes; they need no API key. */
export const healthContract = c.router(
  {
    live: {
      method: "GET",
      path: "/live",
      metadata: { errorCodes: [] as ErrorCode[] },
      responses: { 200: successEnvelope(healthResultSchema) },
      summary: "Liveness: the process is up",
    },
    ready: {
      method: "GET",
      path: "/ready",
      responses: { 200: successEnvelope(healthResultSchema), 503: errorEnvelopeSchema },
      metadata: { errorCodes: ["STORAGE_UNAVAILABLE"] as ErrorCode[] },
      summary: "Readiness: the storage answers (S3 reachable and bucket present, or data dir writable)",
    },
  },
  { pathPrefix: "/health", strictStatusCodes: true },
);
