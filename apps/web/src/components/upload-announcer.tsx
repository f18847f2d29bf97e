import { useState } from "react";
import type { UploadItem, UploadStatus } from "@upload-gateway/react";

/**
 * The page's one live region for uploads: it says when an upload starts, pauses, resumes, completes, fails or is
 * cancelled, once per change. Progress itself is not announced (the progress bars carry it for whoever asks); the
 * cards' status labels are not live regions, so nothing is said twice.
 */
export function UploadAnnouncer({ items }: { items: readonly UploadItem[] }) {
  // What was last said, and each upload's status when it was said: updated while rendering when the items change
  // (React's pattern for state derived from a previous render), so no extra render and no effect.
  const [said, setSaid] = useState({ items, statuses: new Map<string, UploadStatus>(), message: "" });
  if (items !== said.items) {
    const statuses = new Map<string, UploadStatus>();
    const news: string[] = [];
    for (const item of items) {
      const before = said.statuses.get(item.id);
      if (before !== item.status) {
        const sentence = announcement(item, before);
        if (sentence) news.push(sentence);
      }
      statuses.set(item.id, item.status);
    }
    setSaid({ items, statuses, message: news.length > 0 ? news.join(" ") : said.message });
  }

  return (
    <div className="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="upload-announcer">
      {said.message}
    </div>
  );
}

function announcement(item: UploadItem, before: UploadStatus | undefined): string | undefined {
  const name = item.file.name;
  switch (item.status) {
    case "uploading":
      return before === "paused" ? `Resumed ${name}.` : `${item.resuming ? "Continuing" : "Uploading"} ${name}.`;
    case "paused":
      return `Paused ${name}.`;
    case "completed":
      return `${name} uploaded.`;
    case "failed":
      if (item.rejection !== undefined) return `${name} was rejected: ${item.rejection}`;
      return `${name} failed: ${item.error ?? "the upload stopped"}`;
    case "cancelled":
      return `Cancelled ${name}.`;
    default:
      return undefined; // queued and cancelling are steps on the way, said by what follows
  }
}
