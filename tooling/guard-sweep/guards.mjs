// The guards the README's "Security model" names, each with one mutation that removes it and the test file that must
// then fail. `pnpm guard-sweep` applies them one at a time (see run.mjs). Paths are from the repository's root; `search`
// must occur exactly once in `file`; `grep` (optional) narrows the run to the tests whose names match it.
// A mutation whose search no longer matches is reported as stale: find the guard's new spelling and update it here.

/**
 * @typedef {{ file: string, search: string, replace: string }} Mutation
 * @typedef {Mutation & { guard: string, test: string, grep?: string, also?: Mutation[] }} Guard
 */

const S = "apps/server/src/";
const T = "apps/server/test/";
const C = "packages/contract/src/";

/** @type {Guard[]} */
export const guards = [
  // Who may call
  {
    guard: "API keys compared as SHA-256 digests",
    file: `${S}auth/project-registry.ts`,
    search: "if (timingSafeEqual(candidate.digest, digest) && !found)",
    replace: "if (!found)",
    test: `${S}auth/project-registry.test.ts`,
  },
  {
    guard: "the dev key only on a loopback address",
    file: `${S}config/app-config.ts`,
    search: "if (!env.PROJECTS_FILE && !isLoopback(env.HOST)) {",
    replace: "if (false) {",
    test: `${S}config/app-config.test.ts`,
  },
  {
    guard: "CORS: only allowed origins",
    file: `${S}standalone/cors.ts`,
    search: 'if (policy.origins === "*" || policy.origins.includes(origin)) return true;',
    replace: "return true;",
    test: `${T}cors.e2e.test.ts`,
  },
  {
    guard: "CORS: a project's origins on that project's routes only",
    file: `${S}standalone/cors.ts`,
    search: "return projectId !== undefined && policy.projectOrigins(projectId).includes(origin);",
    replace: "return true;",
    test: `${T}cors.e2e.test.ts`,
  },
  {
    guard: "X-Forwarded-* believed only from TRUST_PROXY",
    file: `${S}standalone/http-hardening.ts`,
    search: "trustProxy: config.TRUST_PROXY,",
    replace: "trustProxy: true,",
    test: `${T}trust-proxy.e2e.test.ts`,
  },
  // Security headers
  {
    guard: "X-Content-Type-Options: nosniff on every reply",
    file: `${S}standalone/security-headers.ts`,
    search: '"x-content-type-options": "nosniff",',
    replace: "",
    test: `${T}security-headers.e2e.test.ts`,
  },
  {
    guard: "the API's and the store's replies sandboxed (CSP)",
    file: `${S}standalone/security-headers.ts`,
    search: "const DATA_POLICY = \"default-src 'none'; frame-ancestors 'none'; sandbox\";",
    replace: "const DATA_POLICY = \"default-src 'none'; frame-ancestors 'none'\";",
    test: `${T}security-headers.e2e.test.ts`,
  },
  {
    guard: "X-Frame-Options: DENY",
    file: `${S}standalone/security-headers.ts`,
    search: '"x-frame-options": "DENY",',
    replace: "",
    test: `${T}security-headers.e2e.test.ts`,
  },
  // What may be uploaded
  {
    guard: "part plan: at most 10,000 parts",
    file: `${C}part-plan.ts`,
    search: "partsNumber > MAX_PARTS)",
    replace: "partsNumber > Infinity)",
    test: `${C}part-plan.test.ts`,
  },
  {
    guard: "part plan: parts of at least 5 MiB but the last",
    file: `${C}part-plan.ts`,
    search: "if (contentLength <= (partsNumber - 1) * MIN_PART_SIZE) {",
    replace: "if (false) {",
    test: `${C}part-plan.test.ts`,
  },
  {
    guard: "project's maxFileSize",
    file: `${S}uploads/check-limits.ts`,
    search: "if (maxFileSize !== undefined && contentLength > maxFileSize) {",
    replace: "if (false) {",
    test: `${S}uploads/check-limits.test.ts`,
  },
  {
    guard: "project's allowedMimeTypes",
    file: `${S}uploads/check-limits.ts`,
    search: "if (allowedMimeTypes && !allowedMimeTypes.some(",
    replace: "if (false && !allowedMimeTypes.some(",
    test: `${S}uploads/check-limits.test.ts`,
  },
  {
    guard: "a quarantined object moved off its key",
    file: `${S}uploads/content-check/quarantine.ts`,
    search: "else there = (await storage.moveObject(record.objectKey, kept)) || (await keeps());",
    replace: "else there = await keeps();",
    test: `${S}uploads/content-check/quarantine.test.ts`,
  },
  // Where the bytes go
  {
    guard: "S3 part URLs sign content-length",
    file: `${S}storage/sigv4-presigner.ts`,
    search: 'length: "content-length;host",',
    replace: 'length: "host",',
    test: `${S}storage/sigv4-presigner.test.ts`,
  },
  {
    guard: "embedded store: URLs signed with HMAC",
    file: `${S}storage/local-url-signer.ts`,
    search: 'if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "invalid";',
    replace: 'if (expected.length !== given.length) return "invalid";',
    test: `${S}storage/local-url-signer.test.ts`,
  },
  {
    guard: "embedded store: URLs expire",
    file: `${S}storage/local-url-signer.ts`,
    search: 'return grant.expires * 1000 < now ? "expired" : "ok";',
    replace: 'return "ok";',
    test: `${S}storage/local-url-signer.test.ts`,
  },
  {
    guard: "embedded store: a declared Content-Length other than the part's size refused",
    file: `${S}storage/local-part-receiver.ts`,
    search: "if (declaredLength !== undefined && declaredLength !== expectedSize) {",
    replace: "if (false) {",
    test: `${T}embedding-express.e2e.test.ts`,
    grep: "hostile part bodies",
  },
  {
    guard: "embedded store: a streamed body longer than the part's size cut",
    file: `${S}storage/local-part-file.ts`,
    search: "if (received > limit) return fail(errors.tooLarge(received, limit));",
    replace: "",
    test: `${T}embedding-express.e2e.test.ts`,
    grep: "hostile part bodies",
  },
  // No header a client adds makes an object public
  {
    guard: "single PUT URLs sign the canned ACL",
    file: `${S}storage/sigv4-presigner.ts`,
    search: 'return { "if-none-match": "*", ...(acl === "none" ? {} : { "x-amz-acl": acl }) };',
    replace: 'return { "if-none-match": "*" };',
    test: `${T}signed-url-headers.e2e.test.ts`,
  },
  {
    guard: "a single PUT stored with unsigned metadata or headers is removed at success",
    file: `${S}uploads/single-put-object.ts`,
    search: "return [...metadata, ...Object.keys(head.storedHeaders)].sort();",
    replace: "return [];",
    test: `${T}signed-url-headers.e2e.test.ts`,
  },
  // Webhooks reach public addresses only
  {
    guard: "webhook targets: loopback 127/8 refused",
    file: `${S}webhooks/webhook-target.ts`,
    search: '["127.0.0.0", 8],',
    replace: "",
    test: `${S}webhooks/webhook-target.test.ts`,
  },
  {
    guard: "webhook targets: link-local 169.254/16 (cloud metadata) refused",
    file: `${S}webhooks/webhook-target.ts`,
    search: '["169.254.0.0", 16],',
    replace: "",
    test: `${S}webhooks/webhook-target.test.ts`,
  },
  {
    guard: "webhook targets: 6to4 2002::/16 refused",
    file: `${S}webhooks/webhook-target.ts`,
    search: '["2002::", 16], // 6to4',
    replace: "",
    test: `${S}webhooks/webhook-target.test.ts`,
  },
  {
    guard: "webhook targets: site-local fec0::/10 refused",
    file: `${S}webhooks/webhook-target.ts`,
    search: '["fec0::", 10],',
    replace: "",
    test: `${S}webhooks/webhook-target.test.ts`,
  },
  {
    guard: "webhook targets: IPv4-mapped addresses checked as IPv4",
    file: `${S}webhooks/webhook-target.ts`,
    search: '["::ffff:0:0", 96], // IPv4-mapped',
    replace: "",
    test: `${S}webhooks/webhook-target.test.ts`,
  },
  // The embedded store's files are the owner's only
  {
    guard: "embedded store: directories 0700",
    file: `${S}storage/local-data-dir.ts`,
    search: "export const DIR_MODE = 0o700;",
    replace: "export const DIR_MODE = 0o777;",
    test: `${T}data-dir-modes.e2e.test.ts`,
  },
  {
    guard: "embedded store: files 0600",
    file: `${S}storage/local-data-dir.ts`,
    search: "export const FILE_MODE = 0o600;",
    replace: "export const FILE_MODE = 0o666;",
    test: `${T}data-dir-modes.e2e.test.ts`,
  },
  // What is accepted as input
  {
    guard: "text fields: control characters refused",
    file: `${C}uploads.schemas.ts`,
    search: '.refine((value) => !CONTROL_CHARACTERS.test(value), "must not contain control characters")',
    replace: "",
    test: `${C}uploads.schemas.test.ts`,
  },
  {
    guard: "text fields: lone surrogates refused",
    file: `${C}uploads.schemas.ts`,
    search:
      '.refine((value) => !LONE_SURROGATE.test(value), "must be valid Unicode text (it contains a lone surrogate)");',
    replace: ";",
    test: `${C}uploads.schemas.test.ts`,
  },
  {
    guard: "JSON bodies only (415)",
    file: `${S}standalone/http-hardening.ts`,
    search: 'app.removeContentTypeParser("text/plain");',
    replace: "",
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "415",
  },
  {
    guard: "__proto__ and constructor.prototype keys refused (400)",
    file: `${S}standalone/http-hardening.ts`,
    search: "bodyLimit: config.BODY_LIMIT_BYTES,",
    replace: 'bodyLimit: config.BODY_LIMIT_BYTES, onProtoPoisoning: "ignore", onConstructorPoisoning: "ignore",',
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "__proto__",
  },
  {
    guard: "bodies at most BODY_LIMIT_BYTES (413)",
    file: `${S}standalone/http-hardening.ts`,
    search: "bodyLimit: config.BODY_LIMIT_BYTES,",
    replace: "bodyLimit: 1 << 30,",
    test: `${T}api.e2e.test.ts`,
    grep: "413",
  },
  {
    guard: "405 with Allow for a path's other methods",
    file: `${S}standalone/method-not-allowed.ts`,
    search: "if (allowed.length === 0) return;",
    replace: "return;",
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "405",
  },
  // Slow clients
  {
    guard: "a body that stalls is cut (BODY_IDLE_TIMEOUT_SECONDS)",
    file: `${S}http/body-timeouts.ts`,
    search: "this.idle = setTimeout(() => this.onIdle(), idleMs).unref();",
    replace: "this.idle = setTimeout(() => undefined, idleMs).unref();",
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "stall",
  },
  {
    guard: "an API body that trickles is cut at its deadline (REQUEST_BODY_TIMEOUT_SECONDS)",
    file: `${S}http/body-timeouts.ts`,
    search: "const totalMs = request.routeOptions.config?.streamedBody ? undefined : timeouts.totalMs;",
    replace: "const totalMs = undefined;",
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "trickles",
  },
  {
    guard: "headers must arrive within HEADERS_TIMEOUT_SECONDS",
    file: `${S}standalone/http-hardening.ts`,
    // Node's own default (60 s) instead of the configured one.
    search: "      headersTimeout,\n",
    replace: "",
    test: `${T}http-hardening.e2e.test.ts`,
    grep: "headers that never end",
  },
  // How much, and what counts as done
  {
    guard: "maxOpenUploads (429)",
    file: `${S}uploads/open-uploads.ts`,
    // The cap is N places, each taken by a write that succeeds only where none is.
    search: "marker, { ifNoneMatch: true });",
    replace: "marker);",
    test: `${T}open-uploads.test.ts`,
  },
  {
    guard: "each upload ends once: its record changes by compare-and-swap",
    file: `${S}uploads/upload-records.ts`,
    search: "record, { ifMatch: version });",
    replace: "record, {});",
    test: `${S}uploads/upload-state-machine.test.ts`,
  },
  // One path for every policy
  {
    guard: "path normalisation: percent-escapes decoded",
    file: `${S}http/request-path.ts`,
    search: 'pass < MAX_DECODINGS && path.includes("%")',
    replace: "pass < 0",
    test: `${T}path-normalization.e2e.test.ts`,
  },
  {
    guard: "path normalisation: dot segments resolved",
    file: `${S}http/request-path.ts`,
    search: 'if (segment === "..") segments.pop();',
    replace: 'if (segment === "..") continue;',
    test: `${T}path-normalization.e2e.test.ts`,
  },
  {
    guard: "path normalisation: the area's name without case",
    file: `${S}http/request-path.ts`,
    search: '.replace(/[\\u0000-\\u0020\\u007f]/g, "").toLowerCase();',
    replace: '.replace(/[\\u0000-\\u0020\\u007f]/g, "");',
    test: `${T}path-normalization.e2e.test.ts`,
  },
  // Secrets stay out of logs
  {
    guard: "redaction: URL userinfo",
    file: `${S}observability/redaction.ts`,
    search: "return scrubUserinfo(text)",
    replace: "return text",
    test: `${S}observability/redaction.test.ts`,
  },
  {
    guard: "redaction: secret query parameters",
    file: `${S}observability/redaction.ts`,
    search: "return isSecretParam(name) ? `${delimiter}${name}=${REDACTED}` : all;",
    replace: "return all;",
    test: `${S}observability/redaction.test.ts`,
  },
  {
    guard: "redaction: bearer tokens",
    file: `${S}observability/redaction.ts`,
    search: ".replace(BEARER_PATTERN, `$1 ${REDACTED}`);",
    replace: ";",
    test: `${S}observability/redaction.test.ts`,
  },
  {
    guard: "redaction: the logger scrubs every message",
    file: `${S}observability/logger.ts`,
    search: '(typeof arg === "string" ? scrubSecrets(arg) : arg)',
    replace: "arg",
    test: `${S}observability/logger.test.ts`,
  },
  {
    guard: "redaction: the logger scrubs errors and their causes",
    file: `${S}observability/logger.ts`,
    search: "return scrubDeep(serialized, 0);",
    replace: "return serialized;",
    test: `${S}observability/logger.test.ts`,
  },
  {
    // The outbox scrubs its lines itself for an embedding app's own logger; under the gateway's, the logger's hook
    // scrubs them too: removed together here.
    guard: "redaction: webhook attempts logged without the URL's secrets",
    file: `${S}webhooks/webhook-outbox.service.ts`,
    search: "const what = `webhook ${delivery.event.id} (${delivery.event.type}) to ${scrubSecrets(delivery.url)}`;",
    replace: "const what = `webhook ${delivery.event.id} (${delivery.event.type}) to ${delivery.url}`;",
    also: [
      {
        file: `${S}observability/logger.ts`,
        search: '(typeof arg === "string" ? scrubSecrets(arg) : arg)',
        replace: "arg",
      },
    ],
    test: `${T}secret-redaction.e2e.test.ts`,
  },
  // Bounded key sets
  {
    guard: "JWKS: a declared Content-Length over 1 MiB refused unread",
    file: `${S}auth/jwks-fetch.ts`,
    search: "if (declared > maxBytes) {",
    replace: "if (false) {",
    test: `${T}jwks-caps.e2e.test.ts`,
  },
  {
    guard: "JWKS: read to at most 1 MiB",
    file: `${S}auth/jwks-fetch.ts`,
    search: "if (total > maxBytes) {",
    replace: "if (false) {",
    test: `${T}jwks-caps.e2e.test.ts`,
  },
  {
    guard: "JWKS: at most 100 keys",
    file: `${S}auth/jwks-fetch.ts`,
    search: "if (keys !== undefined && keys > maxKeys)",
    replace: "if (false)",
    test: `${T}jwks-caps.e2e.test.ts`,
  },
  // Rate-limit accounting
  {
    guard: "rate limit: tokens minted without a subject share their minting key's budget",
    file: `${S}auth/principal.ts`,
    search: "if (principal.subject === undefined && principal.mintedBy !== undefined) return",
    replace: "if (false) return",
    test: `${T}rate-limit-identity.e2e.test.ts`,
  },
  {
    guard: "projects file: two keys with one name refused",
    file: `${S}auth/projects-file.ts`,
    search: "if (names.has(key.name)) {",
    replace: "if (false) {",
    test: `${T}rate-limit-identity.e2e.test.ts`,
  },
  // Tokens
  {
    guard: "upload tokens: no clock leeway at expiry",
    file: `${S}auth/upload-tokens.service.ts`,
    search: 'requiredClaims: ["exp", "iat", "jti"],',
    replace: 'requiredClaims: ["exp", "iat", "jti"], clockTolerance: 5,',
    test: `${T}upload-tokens.e2e.test.ts`,
    grep: "expir",
  },
];
