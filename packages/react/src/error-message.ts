import {
  CorsRefusedError,
  NetworkError,
  UploadAbortedError,
  UploadFailedError,
  UploadGatewayError,
} from "@upload-gateway/client";

/**
 * What to tell a person about `error`: the envelope's sentences or the uploader's own, never a stack trace. Errors
 * nobody planned for (bugs) get a plain sentence; their details stay in the console.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof UploadAbortedError) return "The upload was cancelled.";
  if (error instanceof UploadGatewayError) return sentences(error.errors);
  if (error instanceof UploadFailedError) return sentence(error.message);
  // Names the page's origin and the setting that allows it: the one thing to change.
  if (error instanceof CorsRefusedError) return sentence(error.message);
  if (error instanceof NetworkError || (error instanceof TypeError && /fetch|network/i.test(error.message))) {
    return "The gateway could not be reached. Check the connection and try again.";
  }
  console.error(error);
  return "Something went wrong in this page. Reload it and try again.";
}

function sentences(errors: string[]): string {
  return errors.map(sentence).join(" ");
}

/** Closed with a full stop, so that envelope fragments ("fileName: must not be empty") read as sentences side by side. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return trimmed === "" || /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
