import { initContract } from "@ts-rest/core";
import { refineStartUpload, startUploadBodyBase, uploadsContract } from "@upload-gateway/contract";
import { z } from "zod";

const c = initContract();

export const DEPARTMENTS = ["news", "sport", "archive"] as const;

/** The gateway's start body plus the platform's own field: which department a file belongs to. */
export const mediaStartBodySchema = refineStartUpload(
  startUploadBodyBase.extend({ department: z.enum(DEPARTMENTS).describe("The department the file belongs to.") }),
);
export type MediaStartBody = z.infer<typeof mediaStartBodySchema>;

export const catalogEntrySchema = z.object({
  requestKey: z.string(),
  fileName: z.string(),
  size: z.number().int(),
  department: z.string(),
  completedAt: z.string(),
});
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

/**
 * The platform's API: the gateway's routes under /media, with the start body extended, and a route of its own. Its
 * clients are typed from this contract (`initClient(mediaContract, ...)`), as the gateway's are from the gateway's.
 */
export const mediaContract = c.router({
  uploads: c.router(
    { ...uploadsContract, start: { ...uploadsContract.start, body: mediaStartBodySchema } },
    { pathPrefix: "/media" },
  ),
  catalog: {
    method: "GET",
    path: "/catalog/:projectId",
    pathParams: z.object({ projectId: z.string() }),
    responses: { 200: z.object({ entries: z.array(catalogEntrySchema) }) },
    summary: "The project's completed uploads, newest first, as the completion hook recorded them",
  },
});
