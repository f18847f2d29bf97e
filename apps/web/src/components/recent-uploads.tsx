import { describeVerification, type ApiClient } from "@upload-gateway/client";
import type { UploadSummary } from "@upload-gateway/contract";
import { useEffect, useState } from "react";
import { errorMessage } from "@upload-gateway/react";
import { formatBytes, formatWhen } from "../format";
import { Icon } from "./icons";

const STATE_LABELS: Record<UploadSummary["state"], string> = {
  uploading: "Uploading",
  completed: "Completed",
  aborted: "Aborted",
  rejected: "Rejected",
};
const LIMIT = 10;

/** The project's latest uploads as the gateway records them, with a download link for the completed ones. */
/** `refreshKey`: the list is asked for again whenever it changes. */
export function RecentUploads({
  api,
  projectId,
  refreshKey,
}: {
  api: ApiClient;
  projectId: string;
  refreshKey: string;
}) {
  const [uploads, setUploads] = useState<UploadSummary[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    let live = true;
    api.list(projectId, { limit: LIMIT }).then(
      (page) => {
        if (!live) return;
        setUploads(page.uploads);
        setError(undefined);
      },
      (failure: unknown) => {
        if (live) setError(errorMessage(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [api, projectId, refreshKey, reloads]);

  return (
    <section className="recent" aria-labelledby="recent-title">
      <header className="section-head">
        <h2 id="recent-title">Recent uploads</h2>
        <button type="button" className="button button-quiet" onClick={() => setReloads((n) => n + 1)}>
          <Icon name="refresh" /> Refresh
        </button>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {uploads?.length === 0 && <p className="muted empty">Nothing uploaded to this project yet.</p>}
      {uploads && uploads.length > 0 && (
        <ul className="recent-list">
          {uploads.map((upload) => (
            <RecentRow key={upload.requestKey} api={api} projectId={projectId} upload={upload} />
          ))}
        </ul>
      )}
    </section>
  );
}

function RecentRow({ api, projectId, upload }: { api: ApiClient; projectId: string; upload: UploadSummary }) {
  const [error, setError] = useState<string | undefined>();

  // The link is signed and short-lived: ask for a fresh one at the click rather than when the list loads.
  const download = async () => {
    try {
      const { downloadPath } = await api.downloadUrl(projectId, upload.requestKey);
      setError(undefined);
      window.location.assign(downloadPath);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  };

  return (
    <li className="recent-row" data-request-key={upload.requestKey} data-state={upload.state}>
      <div className="recent-name">
        <span className="recent-file" title={upload.fileName}>
          {upload.fileName}
        </span>
        <span className="muted">
          {formatBytes(Number(upload.contentLength))} · {formatWhen(upload.createdAt)}
        </span>
        {upload.verification && (
          <span className={upload.verification.state === "failed" ? "recent-reason" : "muted recent-facts"}>
            {describeVerification(upload.verification)}
          </span>
        )}
      </div>
      <span className={`pill pill-${upload.state}`}>{STATE_LABELS[upload.state]}</span>
      <div className="recent-action">
        {upload.state === "completed" && (
          <a
            className="button button-quiet"
            href={`#download-${upload.requestKey}`}
            onClick={(event) => {
              event.preventDefault();
              void download();
            }}
          >
            <Icon name="download" /> Download
          </a>
        )}
      </div>
      {error && (
        <p className="error recent-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
