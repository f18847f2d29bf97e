import type { InterruptedUpload, InterruptedUploads } from "@upload-gateway/react";
import { formatBytes, formatWhen } from "../format";
import { Icon } from "./icons";

/**
 * Uploads interrupted by a reload (or a closed tab): the page cannot keep the file itself, so it asks for the same
 * file again and then sends only the parts the gateway does not have (`useInterruptedUploads` checks them).
 */
export function ResumeOffers({ interrupted }: { interrupted: InterruptedUploads }) {
  if (interrupted.uploads.length === 0) return null;
  return (
    <section className="resume-offers" aria-label="Interrupted uploads">
      {interrupted.uploads.map((offer) => (
        <OfferCard
          key={offer.upload.requestKey}
          offer={offer}
          onChoose={(file) => interrupted.continueWith(offer.upload, file)}
          onDiscard={() => void interrupted.discard(offer.upload)}
        />
      ))}
    </section>
  );
}

function OfferCard({
  offer,
  onChoose,
  onDiscard,
}: {
  offer: InterruptedUpload;
  onChoose: (file: File) => void;
  onDiscard: () => void;
}) {
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
