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
    expect(scrubSecrets("/storage/parts/u/1?key=a%2Fb&expires=1&signature=XYZ")).toBe(
      "/storage/parts/u/1?key=a%2Fb&expires=1&signature=[REDACTED]",
    );
  });

  // Each case: the text, what must be gone from it, and what must stay (the parts an operator reads).
  const cases: [string, string, RegExp, string[]][] = [
    ["userinfo", "http://user:pw@hooks.example/in?x=1", /user|pw/, ["http://[REDACTED]@hooks.example/in?x=1"]],
    [
      "an @ and a : in the password",
      "https://bob:p@ss:w@rd@hooks.example:8443/a",
      /bob|p@ss|w@rd/,
      ["https://[REDACTED]@hooks.example:8443/a"],
    ],
    [
      "percent-encoded userinfo",
      "http://b%40b:p%3Ass%2Fw@hooks.example/",
      /b%40b|p%3Ass/,
      ["[REDACTED]@hooks.example/"],
    ],
    ["a user name only", "https://deploy-key@git.example/repo", /deploy-key/, ["https://[REDACTED]@git.example/repo"]],
    [
      "an IPv6 host with userinfo",
      "http://u:secret@[2001:db8::1]:8080/x",
      /secret|u:/,
      ["http://[REDACTED]@[2001:db8::1]:8080/x"],
    ],
    [
      "an IPv6 host without userinfo (kept whole)",
      "http://[2001:db8::1]:8080/x?a=b",
      /REDACTED/,
      ["http://[2001:db8::1]:8080/x?a=b"],
    ],
    ["no scheme, //", "//admin:hunter2@10.0.0.1/hook", /admin|hunter2/, ["//[REDACTED]@10.0.0.1/hook"]],
    [
      "no scheme, no //",
      "posting to admin:hunter2@hooks.example/in failed",
      /admin|hunter2/,
      ["[REDACTED]@hooks.example/in failed"],
    ],
    [
      "a password with an unencoded /",
      "http://user:pa/ss@hooks.example/x",
      /user|pa\/|ss@/,
      ["http://[REDACTED]@hooks.example/x"],
    ],
    ["a malformed port, no @", "http://user:pass/x", /user|pass/, ["http://[REDACTED]/x"]],
    [
      "a URL in another URL's query",
      "https://proxy.example/?to=http%3A%2F%2Fa:b@c&u=http://x:y@z/",
      /x:y|a:b/,
      ["http://[REDACTED]@z/"],
    ],
    [
      "a URL in another URL's path",
      "https://proxy.example/http://x:y@z/p",
      /x:y/,
      ["https://proxy.example/http://[REDACTED]@z/p"],
    ],
    ["token=", "https://hooks.example/in?token=s3cr3t&keep=1", /s3cr3t/, ["?token=[REDACTED]&keep=1"]],
    ["sig= in a fragment", "https://cdn.example/v#sig=abc123&t=5", /abc123/, ["#sig=[REDACTED]&t=5"]],
    [
      "mixed-case names",
      "https://x.example/?Token=A1&X-AMZ-SIGNATURE=B2&Access_Token=C3",
      /A1|B2|C3/,
      ["Token=[REDACTED]"],
    ],
    ["a percent-encoded name", "https://x.example/?%74oken=A1&si%67=B2", /A1|B2/, ["%74oken=[REDACTED]"]],
    [
      "a password parameter",
      "https://x.example/?user=bob&password=hunter2",
      /hunter2/,
      ["user=bob&password=[REDACTED]"],
    ],
    [
      "a request target",
      "/api/projects/p/uploads?token=abc&limit=1",
      /abc/,
      ["/api/projects/p/uploads?token=[REDACTED]&limit=1"],
    ],
    ["an absolute-form request target", "http://u:p@gw.example/api/x", /u:p/, ["http://[REDACTED]@gw.example/api/x"]],
    ["a malformed escape", "https://x.example/?%E0%A4%A=1&token=zz%", /zz/, ["%E0%A4%A=1&token=[REDACTED]"]],
    [
      "a URL in quotes",
      `{"url":"http://u:pw@h/x?sig=1"}`,
      /u:pw|sig=1/,
      [`{"url":"http://[REDACTED]@h/x?sig=[REDACTED]"}`],
    ],
  ];
  it.each(cases)("scrubs %s", (_name, text, gone, kept) => {
    const scrubbed = scrubSecrets(text);
    expect(scrubbed).not.toMatch(gone);
    for (const part of kept) expect(scrubbed).toContain(part);
  });

  it("leaves text without secrets alone", () => {
    for (const text of [
      "GET /api/projects/p/uploads?limit=1 took 3 ms",
      "https://hooks.example:8443/in?event=upload.completed",
      "/storage/objects/a/b.mp4?key=a%2Fb&expires=1",
      "at 12:30 the sweep ran; bob@example.com was notified",
      "/api//projects/x",
    ]) {
      expect(scrubSecrets(text)).toBe(text);
    }
  });

  it("takes linear time on hostile text", () => {
    // Quadratic scans of these would take seconds; linear ones take milliseconds (not asserted: no timing tests).
    for (const text of ["//a:b".repeat(20_000), ";a".repeat(50_000), " a:".repeat(30_000), "//".repeat(50_000) + "@"]) {
      expect(typeof scrubSecrets(text)).toBe("string");
    }
  });
});
