import { UploadRefusedError, type UploadLifecycleHooks } from "@upload-gateway/server";
import type { CatalogService } from "./catalog.service";
import type { MediaStartBody } from "./media.contract";

/**
 * The platform's rules for every upload, as the gateway's lifecycle hooks: before a start, the archive refuses
 * anything but video and each file goes under its department's prefix with the department in its metadata; after a
 * completion, the file enters the catalog.
 */
export function mediaHooks(catalog: CatalogService): UploadLifecycleHooks {
  return {
    beforeStart({ body, requestKey }) {
      // The gateway validated the body with the platform's extended schema (`startBody`), so the field is there.
      const { department, mimeType, metadata } = body as MediaStartBody;
      if (department === "archive" && !mimeType.startsWith("video/")) {
        throw new UploadRefusedError({
          code: "MIME_TYPE_NOT_ALLOWED",
          field: "mimeType",
          message: "the archive takes video only",
        });
      }
      return { objectKey: `media/${department}/${requestKey}`, metadata: { ...metadata, department } };
    },
    onCompleted({ event }) {
      const { projectId, requestKey, fileName, size, metadata } = event.data;
      catalog.add(projectId, {
        requestKey,
        fileName,
        size,
        department: metadata.department ?? "",
        completedAt: event.createdAt,
      });
    },
  };
}
