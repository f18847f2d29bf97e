/**
 * S3-shaped replies for Uppy 6's `@uppy/aws-s3`, as `data:` URLs.
 *
 * Uppy 6 sends every S3 request itself to the URL `signRequest` returns, and reads S3's XML answer. The gateway is
 * not S3: it starts, lists, completes and aborts uploads through its own API, which the adapter calls while signing.
 * What the plugin then needs is the answer S3 would have given, and a `data:` URL is exactly that (a browser answers
 * any method on it with its content, status 200, without a network request). Only the part bytes and a small file's
 * single PUT go to a real URL: the store's presigned one.
 */

/** Text for an XML element's content: the five entities the plugin's reader decodes, nothing else to escape. */
export function xmlText(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`);
}

function xmlReply(root: string, fields: string): string {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><${root}>${fields}</${root}>`;
  return `data:application/xml;charset=utf-8,${encodeURIComponent(xml)}`;
}

const element = (name: string, value: string | number) => `<${name}>${xmlText(String(value))}</${name}>`;

/** The reply to `CreateMultipartUpload`: the gateway's upload, under its request key. */
export function initiateReply(requestKey: string, uploadId: string): string {
  return xmlReply("InitiateMultipartUploadResult", element("Key", requestKey) + element("UploadId", uploadId));
}

/** The reply to `ListParts`: the parts the store holds (the plugin sends only the others). */
export function listPartsReply(
  requestKey: string,
  uploadId: string,
  parts: { partNumber: number; eTag: string }[],
): string {
  const listed = parts.map((p) => `<Part>${element("PartNumber", p.partNumber)}${element("ETag", p.eTag)}</Part>`);
  return xmlReply("ListPartsResult", element("Key", requestKey) + element("UploadId", uploadId) + listed.join(""));
}

/** The reply to `CompleteMultipartUpload`: the file's `Location` (Uppy's `uploadURL`) is its download URL. */
export function completeReply(requestKey: string, location: string): string {
  return xmlReply("CompleteMultipartUploadResult", element("Location", location) + element("Key", requestKey));
}

/** The reply to `AbortMultipartUpload` (S3 answers 204 with no body; the plugin reads an empty one the same way). */
export const ABORTED_REPLY = "data:application/xml;charset=utf-8,";
