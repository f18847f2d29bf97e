import { initContract } from "@ts-rest/core";
import { z } from "zod";
import { errorEnvelopeSchema, successEnvelope } from "./envelope";
import type { ErrorCode } from "./errors";

const c = initContract();

export const devSessionSchema = z.object({
  projectId: z.string().describe("The dev project."),
  apiKey: z.string().describe("The dev project's API key."),
});
export type DevSession = z.infer<typeof devSessionSchema>;

/**
 * Zero-config access for the demo page on a developer's machine. It answers only in dev mode (embedded storage on a
 * loopback address, no projects file), where the key is printed at start anyway; elsewhere it is a 404.
 */
export const devContract = c.router(
  {
    session: {
      method: "GET",
      path: "/api/dev-session",
      responses: { 200: successEnvelope(devSessionSchema), 404: errorEnvelopeSchema },
      metadata: { errorCodes: ["ROUTE_NOT_FOUND"] as ErrorCode[] },
      summary: "The dev project and its key (dev mode only)",
      description:
        "Lets the demo page at `/` work without typing anything on a developer's machine. Answers 404 unless the " +
        "server runs with the embedded storage on a loopback HOST without a PROJECTS_FILE, and only to requests " +
        "whose Host is a loopback name.",
    },
  },
  { strictStatusCodes: true },
);
