import { describe, expect, it } from "vitest";
import { scrubSecrets } from "./redaction";

describe("scrubSecrets", () => {
  it("removes the signature, credential and token of an S3 presigned URL, keeping the rest readable", () => {
    const url =
      "https://s3.example.test/videos/k?partNumber=1&uploadId=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=FwoGZX&X-Amz-SignedHeaders=host&X-Amz-Signature=abcdef0123";
    const scrubbed = scrubSecrets(`failed to fetch ${url} after 3 tries`);
    expect(scrubbed).not.toMatch(/AKIDEXAMPLE|FwoGZX|abcdef0123/);
    expect(scrubbed).toContain("X-Amz-Signature=[REDACTED]");
    expect(scrubbed).toContain("partNumber=1&uploadId=u");
    expect(scrubbed).toMatch(/ after 3 tries$/);
  });

  it("removes bearer tokens and the embedded store's signatures", () => {
    expect(scrubSecrets("Authorization: Bearer key-abc.def")).toBe("Authorization: Bearer [REDACTED]");
    expect(scrubSecrets("/storage/parts/u/1?key=a%2Fb&expires=1&signature=XYZ")).toBe("/storage/parts/u/1?key=a%2Fb&expires=1&signature=[REDACTED]");
  });
});
