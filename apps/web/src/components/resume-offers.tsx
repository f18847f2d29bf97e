import { UploadGatewayError, type ApiClient } from "@upload-gateway/client";
import { useEffect, useMemo, useState } from "react";
import { errorMessage } from "../error-message";
import { formatBytes, formatWhen } from "../format";
import { sameFile, type PendingUpload, type PendingUploads } from "../uploads/pending-uploads";
import { Icon } from "./icons";

interface Offer {
  upload: PendingUpload;
  /** What the gateway holds of it, when it could be asked. */
  stored?: { parts: number; bytes: number };
  error?: string;
}

/**
 * Uploads interrupted by a reload (or a closed tab): the page cannot keep the file itself, so it asks for the same
 * file again and then sends only the parts the gateway does not have. Uploads that finished meanwhile are forgotten.
 */
export function ResumeOffers(props: {
  api: ApiClient;
  projectId: string;
  pending: PendingUploads;
  /** Request keys of the uploads listed on the page: not offered (their cards say where they stand). */
  knownKeys: ReadonlySet<string>;
  onContinue: (file: File, requestKey: string) => void;
}) {
  const { api, projectId, pending, knownKeys, onContinue } = props;
  const [offers, setOffers] = useState<Offer[]>([]);

  useEffect(() => {
    let live = true;
    const uploads = pending.list(projectId);
    setOffers(uploads.map((upload) => ({ upload })));
    void Promise.all(
      uploads.map(async (upload): Promise<Offer | undefined> => {
        try {
          const details = await api.get(projectId, upload.requestKey);
          if (details.state !== "uploading") {
            pending.remove(upload.requestKey);
            return undefined;
          }
          const bytes = details.uploadedParts.reduce((sum, p) => sum + p.size, 0);
          return { upload, stored: { parts: details.uploadedParts.length, bytes } };
        } catch (error) {
          if (error instanceof UploadGatewayError && error.status === 404) {
            pending.remove(upload.requestKey);
            return undefined;
          }
          return { upload, error: errorMessage(error) };
        }
      }),
    ).then((checked) => {
      if (live) setOffers(checked.filter((o): o is Offer => o !== undefined));
    });
    return () => {
      live = false;
    };
  }, [api, projectId, pending]);

  // Read again when the page's uploads change: one continued here and then completed must not come back as an offer.
  const stillPending = useMemo(
    () => new Set(pending.list(projectId).map((p) => p.requestKey)),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- knownKeys is the signal that the storage changed
    [pending, projectId, knownKeys],
  );
  const visible = offers.filter((o) => !knownKeys.has(o.upload.requestKey) && stillPending.has(o.upload.requestKey));
  if (visible.length === 0) return null;

  const discard = async (offer: Offer) => {
    try {
      await api.abort(projectId, offer.upload.requestKey);
    } catch (error) {
      // Already gone (completed, aborted or expired) is what discarding wants anyway.
      if (!(error instanceof UploadGatewayError && (error.status === 404 || error.status === 409))) {
        setOffers((all) => all.map((o) => (o === offer ? { ...o, error: errorMessage(error) } : o)));
        return;
      }
    }
    pending.remove(offer.upload.requestKey);
    setOffers((all) => all.filter((o) => o !== offer));
  };

  const choose = (offer: Offer, file: File) => {
    if (!sameFile(offer.upload, file)) {
      const error =
        `That is not the same file: “${file.name}” (${formatBytes(file.size)}) was chosen, but the interrupted upload is ` +
        `“${offer.upload.name}” (${formatBytes(offer.upload.size)}, last modified ${new Date(offer.upload.lastModified).toLocaleString()}).`;
      setOffers((all) => all.map((o) => (o === offer ? { ...o, error } : o)));
      return;
    }
    onContinue(file, offer.upload.requestKey);
  };

  return (
    <section className="resume-offers" aria-label="Interrupted uploads">
      {visible.map((offer) => (
        <OfferCard key={offer.upload.requestKey} offer={offer} onChoose={(file) => choose(offer, file)} onDiscard={() => void discard(offer)} />
      ))}
    </section>
  );
}

function OfferCard({ offer, onChoose, onDiscard }: { offer: Offer; onChoose: (file: File) => void; onDiscard: () => void }) {
  const { upload, stored } = offer;
  const progress = stored
    ? ` · ${stored.parts} of ${upload.partsTotal} parts stored (${Math.floor((stored.bytes / upload.size) * 100)}%)`
    : "";
  return (
    <article className="offer" aria-label={`Interrupted: ${upload.name}`}>
      <div className="offer-text">
        <p className="offer-title">
          <Icon name="retry" /> Continue “{upload.name}”?
        </p>
        <p className="muted">
          {formatBytes(upload.size)}
          {progress} · started {formatWhen(upload.startedAt)}
        </p>
        <p>Choose the same file again: only the parts the gateway does not have yet will be sent.</p>
        {offer.error && (
          <p className="error" role="alert">
            {offer.error}
          </p>
        )}
      </div>
      <div className="actions">
        <label className="button button-primary">
          Choose “{upload.name}”
          <input
            className="visually-hidden"
            type="file"
            aria-label={`Choose ${upload.name} again to continue`}
            onChange={(event) => {
              const file = event.target.files?.[0];
              event.target.value = "";
              if (file) onChoose(file);
            }}
          />
        </label>
        <button type="button" className="button button-quiet" onClick={onDiscard}>
          Discard
        </button>
      </div>
    </article>
  );
}
