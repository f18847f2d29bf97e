/** An ETag without its surrounding double quotes: stores send `"abc"`, clients often pass `abc`. */
export function unquoteETag(eTag: string): string {
  return eTag.trim().replace(/^"(.*)"$/, "$1");
}
