import { useLayoutEffect, useRef } from "react";
import { acknowledgedBytes, formatBytes, formatEta, formatSpeed, percentOf, rejectionSentence } from "../format";
import type { UploadItem, UploadQueueHandle, UploadStatus } from "@upload-gateway/react";
import { Icon } from "./icons";
import { PartStrip } from "./part-strip";
import { VerificationFacts } from "./verification-facts";

const STATUS_LABELS: Record<UploadStatus, string> = {
  queued: "Waiting",
  uploading: "Uploading",
  paused: "Paused",
  cancelling: "Cancelling…",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** One file: its progress, speed and time left, each part's state, and what can be done with it now. */
export function UploadCard({ item, queue }: { item: UploadItem; queue: UploadQueueHandle }) {
  const { file, status, parts } = item;
  const partsDone = parts.filter((p) => p === "done").length;
  const finishing = status === "uploading" && parts.length > 0 && partsDone === parts.length;
  const label = finishing
    ? "Finishing…"
    : item.resuming && status === "uploading" && item.bytesSent === 0
      ? "Continuing…"
      : item.rejection !== undefined
        ? "Rejected"
        : STATUS_LABELS[status];
  // What the store acknowledged, not what went into the network: a part sent whose reply has not come may still fail.
  const stored = status === "completed" ? file.size : acknowledgedBytes(parts, item.partSize, file.size);
  const percent = status === "completed" ? 100 : percentOf(stored, file.size);
  const card = useRef<HTMLElement>(null);
  useFocusHandOffOnRemoval(card);

  return (
    <article
      ref={card}
      className={`upload-card status-${status}`}
      aria-label={file.name}
      data-status={status}
      tabIndex={-1}
    >
      <header className="upload-card-head">
        <div className="file-icon">
          <Icon name="file" />
        </div>
        <div className="upload-card-title">
          {/* The whole name wraps rather than being cut: a tooltip cannot be read on a touch screen. */}
          <h3>{file.name}</h3>
          <p className="muted">{summary(item, partsDone, stored)}</p>
        </div>
        {/* Not a live region: the page's one announcer (UploadAnnouncer) says what changed, once. */}
        <span className={`pill pill-${status}`}>{label}</span>
      </header>

      <div
        className="progress"
        role="progressbar"
        aria-label={`${file.name} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={progressText(item, label, percent, partsDone)}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>

      <div className="upload-card-foot">
        <p className="stats">
          <strong className="percent">{percent}%</strong>
          {status === "uploading" && !finishing && (
            <>
              <span>{formatSpeed(item.bytesPerSecond)}</span>
              <span>{formatEta(file.size - item.bytesSent, item.bytesPerSecond)}</span>
            </>
          )}
          {status === "paused" && <span>Paused: parts already on their way finish, no others start</span>}
        </p>
        <Actions item={item} queue={queue} />
      </div>

      <PartStrip parts={parts} />
      {status === "completed" && <VerificationFacts verification={item.verification} />}
      {item.rejection !== undefined ? (
        <p className="error">{rejectionSentence(item.rejection)}</p>
      ) : (
        item.error && <p className="error">{item.error}</p>
      )}
    </article>
  );
}

/** What a screen reader says for the progress bar, in place of the part strip (hidden from it: one square per part). */
function progressText(item: UploadItem, label: string, percent: number, partsDone: number): string {
  const parts = item.parts.length > 0 ? `, ${partsDone} of ${item.parts.length} parts stored` : "";
  return `${percent}%${parts}, ${label.replace(/…$/, "").toLowerCase()}`;
}

/**
 * When a card leaves the list (Remove) while focus is in it, focus moves to the next card's first control, else the
 * previous card's, else the "Choose files" control, instead of dropping to the page's body.
 */
function useFocusHandOffOnRemoval(card: React.RefObject<HTMLElement | null>) {
  useLayoutEffect(() => {
    const element = card.current;
    return () => {
      if (!element?.contains(document.activeElement)) return;
      const target =
        [element.nextElementSibling, element.previousElementSibling]
          .map((sibling) => sibling?.querySelector<HTMLElement>("button") ?? (sibling as HTMLElement | null))
          .find((candidate) => candidate?.matches("button, article")) ??
        document.querySelector<HTMLElement>(".drop-zone input[type=file]");
      // The card is still in the document while this runs: focus once it is gone.
      queueMicrotask(() => target?.focus());
    };
  }, [card]);
}

function summary(item: UploadItem, partsDone: number, stored: number): string {
  const size = formatBytes(item.file.size);
  const parts = item.parts.length;
  if (item.status === "completed") {
    const sent = item.partsSent ?? parts;
    return item.resuming && sent < parts
      ? `${size} · continued: ${sent} of ${parts} parts sent now`
      : `${size} · ${parts} ${parts === 1 ? "part" : "parts"}`;
  }
  if (parts === 0) return size;
  return `${formatBytes(stored)} of ${size} · ${partsDone} of ${parts} parts`;
}

/**
 * The card's controls. Each slot keeps one <button> element whatever it says (Pause → Resume, Cancel → Remove), so
 * that a keyboard user's focus stays on the control they used; when a slot empties while focused (Pause as the upload
 * completes), focus moves to the card's other control, or to the card.
 */
function Actions({ item, queue }: { item: UploadItem; queue: UploadQueueHandle }) {
  const { id, status } = item;
  const container = useRef<HTMLDivElement>(null);
  const hadFocus = useRef(false);
  useLayoutEffect(() => {
    if (!hadFocus.current || container.current?.contains(document.activeElement)) return;
    if (document.activeElement && document.activeElement !== document.body) return; // the user moved on
    const next =
      container.current?.querySelector<HTMLElement>("button") ?? container.current?.closest<HTMLElement>("article");
    next?.focus();
  });

  const primary =
    status === "uploading"
      ? { label: "Pause", icon: "pause" as const, run: () => queue.pause(id) }
      : status === "paused"
        ? { label: "Resume", icon: "play" as const, run: () => queue.resume(id) }
        : status === "failed" && item.file.size > 0 && item.rejection === undefined
          ? { label: item.requestKey ? "Continue" : "Try again", icon: "retry" as const, run: () => queue.retry(id) }
          : undefined;
  const secondary =
    status === "queued" || status === "uploading" || status === "paused"
      ? { remove: false, run: () => queue.cancel(id) }
      : status === "cancelling"
        ? { remove: false, run: () => undefined }
        : { remove: true, run: () => queue.dismiss(id) };

  return (
    <div
      className="actions"
      ref={container}
      onFocus={() => (hadFocus.current = true)}
      onBlur={(event) => {
        // Focus that leaves for another element was moved by the user; focus lost with a removed button was not.
        if (event.relatedTarget) hadFocus.current = false;
      }}
    >
      {primary && (
        <button type="button" className="button" onClick={primary.run}>
          <Icon name={primary.icon} /> {primary.label}
        </button>
      )}
      {secondary && (
        <button
          type="button"
          className={`button ${secondary.remove ? "button-quiet" : "button-danger"}`}
          // Kept (not disabled) while cancelling, so that focus stays on it until it becomes Remove.
          aria-disabled={status === "cancelling" || undefined}
          aria-label={secondary.remove ? `Remove ${item.file.name} from the list` : undefined}
          onClick={secondary.run}
        >
          <Icon name="close" /> {secondary.remove ? null : "Cancel"}
        </button>
      )}
    </div>
  );
}
