import type { Verification } from "@upload-gateway/client";
import { verificationFacts } from "../format";

/**
 * What the gateway's content check found in a finished upload's stored file: its type and, for a video, its duration,
 * resolution and codecs. Nothing from a gateway that does not check content, nor before the check passed.
 */
export function VerificationFacts({ verification }: { verification: Verification | undefined }) {
  const facts = verificationFacts(verification);
  if (facts.length === 0) return null;
  return (
    <dl className="media-facts" aria-label="What the gateway found in the file">
      {facts.map(([label, value]) => (
        <div key={label} data-fact={label.toLowerCase()}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
