import type { PartState } from "@upload-gateway/client";

const LABELS: Record<PartState, string> = {
  waiting: "waiting",
  sending: "sending",
  done: "done",
  retrying: "retrying",
};

/**
 * One square per part, coloured by its state, so that a big upload's progress can be seen at a glance. Hidden from
 * assistive technology (a 1 GiB file is 205 squares): the card's progress bar says the same in one value.
 */
export function PartStrip({ parts }: { parts: readonly PartState[] }) {
  if (parts.length === 0) return null;
  const done = parts.filter((p) => p === "done").length;
  return (
    <div className="parts" aria-hidden="true">
      <ol className="parts-strip" data-done={done}>
        {parts.map((state, index) => (
          <li
            key={index}
            className={`part part-${state}`}
            data-part={index + 1}
            data-state={state}
            title={`Part ${index + 1}: ${LABELS[state]}`}
          />
        ))}
      </ol>
    </div>
  );
}

/** The key to the strip's colours, shown once above the list. */
export function PartLegend() {
  return (
    <ul className="parts-legend" aria-hidden="true">
      {(Object.keys(LABELS) as PartState[]).map((state) => (
        <li key={state}>
          <span className={`part part-${state}`} aria-hidden="true" />
          {LABELS[state]}
        </li>
      ))}
    </ul>
  );
}
