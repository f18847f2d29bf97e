import { formatBytes, formatEta, formatSpeed, percentOf } from "../format";
import type { UploadItem, UploadQueue, UploadStatus } from "../uploads/upload-queue";
import { Icon } from "./icons";
import { PartStrip } from "./part-strip";

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
export function UploadCard({ item, queue }: { item: UploadItem; queue: UploadQueue }) {
  const { file, status, parts } = item;
  const partsDone = parts.filter((p) => p === "done").length;
  const finishing = status === "uploading" && parts.length > 0 && partsDone === parts.length;
  const label = finishing ? "Finishing…" : item.resuming && status === "uploading" && item.bytesSent === 0 ? "Continuing…" : STATUS_LABELS[status];
  const percent = status === "completed" ? 100 : percentOf(item.bytesSent, file.size);

  return (
    <article className={`upload-card status-${status}`} aria-label={file.name} data-status={status}>
      <header className="upload-card-head">
        <div className="file-icon">
          <Icon name="file" />
        </div>
        <div className="upload-card-title">
          <h3 title={file.name}>{file.name}</h3>
          <p className="muted">{summary(item, partsDone)}</p>
        </div>
        <span className={`pill pill-${status}`} role="status">
          {label}
        </span>
      </header>

      <div
        className="progress"
        role="progressbar"
        aria-label={`${file.name} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
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
          {status === "paused" && <span>Paused: nothing is being sent</span>}
        </p>
        <Actions item={item} queue={queue} />
      </div>

      <PartStrip parts={parts} />
      {item.error && (
        <p className="error" role="alert">
          {item.error}
        </p>
      )}
    </article>
  );
}

function summary(item: UploadItem, partsDone: number): string {
  const size = formatBytes(item.file.size);
  const parts = item.parts.length;
  if (item.status === "completed") {
    const sent = item.partsSent ?? parts;
    return item.resuming && sent < parts ? `${size} · continued: ${sent} of ${parts} parts sent now` : `${size} · ${parts} ${parts === 1 ? "part" : "parts"}`;
  }
  if (parts === 0) return size;
  return `${formatBytes(item.bytesSent)} of ${size} · ${partsDone} of ${parts} parts`;
}

function Actions({ item, queue }: { item: UploadItem; queue: UploadQueue }) {
  const { id, status } = item;
  return (
    <div className="actions">
      {status === "uploading" && (
        <button type="button" className="button" onClick={() => queue.pause(id)}>
          <Icon name="pause" /> Pause
        </button>
      )}
      {status === "paused" && (
        <button type="button" className="button" onClick={() => queue.resume(id)}>
          <Icon name="play" /> Resume
        </button>
      )}
      {status === "failed" && item.file.size > 0 && (
        <button type="button" className="button" onClick={() => queue.retry(id)}>
          <Icon name="retry" /> {item.requestKey ? "Continue" : "Try again"}
        </button>
      )}
      {(status === "queued" || status === "uploading" || status === "paused") && (
        <button type="button" className="button button-danger" onClick={() => queue.cancel(id)}>
          <Icon name="close" /> Cancel
        </button>
      )}
      {(status === "completed" || status === "failed" || status === "cancelled") && (
        <button type="button" className="button button-quiet" onClick={() => queue.dismiss(id)} aria-label={`Remove ${item.file.name} from the list`}>
          <Icon name="close" />
        </button>
      )}
    </div>
  );
}
