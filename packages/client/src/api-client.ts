import { initClient, type ApiFetcher } from "@ts-rest/core";
import {
  contract,
  type CompleteUploadBody,
  type ListUploadsResult,
  type ResumeUploadResult,
  type SinglePutUploadBody,
  type SinglePutUploadResult,
  type StartUploadBody,
  type StartUploadResult,
  type UploadDetails,
  type CreateUploadTokenBody,
  type UploadTokenResult,
  type Verification,
} from "@upload-gateway/contract";
import { crossOriginPage, gatewayAnswers } from "./cors-refusal";
import { CorsRefusedError, NetworkError, UploadGatewayError } from "./errors";
import { newIdempotencyKey } from "./idempotency-key";

export interface ApiClientOptions {
  /** Where the gateway is, e.g. `https://uploads.example.com` (no trailing `/api`). */
  baseUrl: string;
  /** The project's API key: for servers and the CLI. Never put it in a web page; give the page `getToken` instead. */
  apiKey?: string;
  /**
   * Returns the bearer credential to send instead of an API key: an upload token your backend minted
   * (`POST /api/projects/{projectId}/upload-tokens`), or your identity provider's JWT. Called before the first call
   * and kept; when the gateway answers 401 `TOKEN_EXPIRED`, called once more and the call sent again with the new one.
   */
  getToken?: () => string | Promise<string>;
  /** A `fetch` to use instead of the global one (for proxies, tests, or runtimes without one). */
  fetch?: typeof fetch;
}

/** `POST /success/{requestKey}`'s result: a time-limited download URL, and what the gateway's content check found. */
export interface DownloadResult {
  downloadPath: string;
  expiresAt: string;
  /** Absent from gateways that do not check content. */
  verification?: Verification;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface StartOptions extends RequestOptions {
  /**
   * The start's `Idempotency-Key`: send the same one again when retrying this start, so that a start whose reply was
   * lost answers the upload it made instead of making a second one. A fresh random key when omitted.
   */
  idempotencyKey?: string;
}

/**
 * Typed calls to every route of the contract. Each returns the envelope's `result`; a reply that is not a success
 * throws an `UploadGatewayError` (with the status, sentences and codes), a request that got no answer a `NetworkError`.
 */
export interface ApiClient {
  start(projectId: string, body: StartUploadBody, options?: StartOptions): Promise<StartUploadResult>;
  /**
   * `POST /url`: a single-PUT upload of a file of up to 5 GiB. PUT the file to `url` (with `Content-Type` equal to
   * `mimeType`), then call `downloadUrl`, which completes it.
   */
  startSinglePut(projectId: string, body: SinglePutUploadBody, options?: StartOptions): Promise<SinglePutUploadResult>;
  complete(projectId: string, body: CompleteUploadBody, options?: RequestOptions): Promise<true>;
  abort(projectId: string, requestKey: string, options?: RequestOptions): Promise<true>;
  resume(
    projectId: string,
    body: { requestKey: string; presignedUrlExpiryTimeHours?: number | null },
    options?: RequestOptions,
  ): Promise<ResumeUploadResult>;
  /**
   * `POST /success/{requestKey}`; completes a single-PUT upload whose file is stored. A gateway that checks content
   * answers once the check is done, with its findings (`verification`), else 409 `VERIFICATION_PENDING` (retryable,
   * with `Retry-After`) or 422 `CONTENT_REJECTED`.
   */
  downloadUrl(projectId: string, requestKey: string, options?: RequestOptions): Promise<DownloadResult>;
  get(projectId: string, requestKey: string, options?: RequestOptions): Promise<UploadDetails>;
  list(
    projectId: string,
    query?: { cursor?: string; limit?: number },
    options?: RequestOptions,
  ): Promise<ListUploadsResult>;
  /** Mints an upload token for a web page (needs the API key): `{ token, expiresAt }`. */
  createUploadToken(
    projectId: string,
    body?: CreateUploadTokenBody,
    options?: RequestOptions,
  ): Promise<UploadTokenResult>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const credential = bearerCredential(options);
  const noAnswer = (error: unknown) =>
    new NetworkError(`No answer from ${options.baseUrl}: ${(error as Error).message}`, { cause: error });
  const send = async (
    { path, method, headers, body, fetchOptions }: Parameters<ApiFetcher>[0],
    bearer: string,
  ): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const init = { ...fetchOptions, method, headers: { ...headers, authorization: `Bearer ${bearer}` }, body };
    const response = await fetchImpl(path, init).catch(async (error: unknown) => {
      if (isAbort(error)) throw error;
      const origin = crossOriginPage(path);
      const signal = fetchOptions?.signal ?? undefined;
      // In a browser, on another origin: a refusal by CORS looks like no network. If the gateway answers a probe, send
      // once more (a connection that just failed, say in a restart, gets its chance) before calling it CORS.
      if (origin === undefined || !(await gatewayAnswers(fetchImpl, baseUrl, signal))) throw noAnswer(error);
      if (signal?.aborted) throw signal.reason;
      return fetchImpl(path, init).catch((again: unknown) => {
        if (isAbort(again)) throw again;
        throw new CorsRefusedError(origin, options.baseUrl, { cause: again });
      });
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a proxy's error page): keep the text; the error says the status.
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  const api: ApiFetcher = async (request) => {
    const used = credential.current();
    const reply = await send(request, await used);
    if (
      reply.status !== 401 ||
      !credential.renewable ||
      !new UploadGatewayError(401, reply.body).hasCode("TOKEN_EXPIRED")
    ) {
      return reply;
    }
    // Once: a fresh token that is refused again is the caller's problem to see, not a loop.
    return send(request, await credential.renew(used));
  };
  const client = initClient(contract, { baseUrl, api });
  const uploads = client.uploads;

  /** What both kinds of start send besides the body: the Idempotency-Key (a fresh one unless given) and the signal. */
  const startRequest = (o: StartOptions | undefined) => ({
    headers: { "idempotency-key": o?.idempotencyKey ?? newIdempotencyKey() },
    fetchOptions: { signal: o?.signal },
  });

  /** The envelope's result of a 2xx reply; anything else becomes an `UploadGatewayError`. */
  async function result<T>(call: Promise<{ status: number; body: unknown; headers: Headers }>): Promise<T> {
    const { status, body, headers } = await call;
    if (status >= 200 && status < 300 && (body as { success?: unknown } | undefined)?.success === true) {
      return (body as { result: T }).result;
    }
    throw new UploadGatewayError(status, body, headers.get("retry-after"));
  }

  return {
    start: (projectId, body, o) => result(uploads.start({ params: { projectId }, body, ...startRequest(o) })),
    startSinglePut: (projectId, body, o) =>
      result(uploads.startSinglePut({ params: { projectId }, body, ...startRequest(o) })),
    complete: (projectId, body, o) =>
      result(uploads.complete({ params: { projectId }, body, fetchOptions: { signal: o?.signal } })),
    abort: (projectId, requestKey, o) =>
      result(uploads.abort({ params: { projectId }, body: { requestKey }, fetchOptions: { signal: o?.signal } })),
    resume: (projectId, body, o) =>
      result(uploads.resume({ params: { projectId }, body, fetchOptions: { signal: o?.signal } })),
    downloadUrl: (projectId, requestKey, o) =>
      result(uploads.download({ params: { projectId, requestKey }, fetchOptions: { signal: o?.signal } })),
    get: (projectId, requestKey, o) =>
      result(uploads.get({ params: { projectId, requestKey }, fetchOptions: { signal: o?.signal } })),
    createUploadToken: (projectId, body = {}, o) =>
      result(client.uploadTokens.create({ params: { projectId }, body, fetchOptions: { signal: o?.signal } })),
    list: (projectId, query = {}, o) =>
      result(uploads.list({ params: { projectId }, query, fetchOptions: { signal: o?.signal } })),
  };
}

/**
 * The bearer the calls send: the API key, or the last token `getToken` gave. Calls that meet an expired token at the
 * same time renew it once between them: the first asks for a new one, the others wait for it.
 */
function bearerCredential(options: ApiClientOptions): {
  renewable: boolean;
  current(): Promise<string>;
  /** A new token in place of `expired` (the promise `current` gave), unless another call has renewed it already. */
  renew(expired: Promise<string>): Promise<string>;
} {
  const { apiKey, getToken } = options;
  if (getToken) {
    let token: Promise<string> | undefined;
    const fetchToken = () => {
      const next = Promise.resolve().then(getToken);
      next.catch(() => {
        if (token === next) token = undefined; // a failed getToken is asked again on the next call
      });
      return (token = next);
    };
    return {
      renewable: true,
      current: () => token ?? fetchToken(),
      // Decided synchronously, so calls meeting the same expired token at once ask for one new token between them.
      renew: (expired) => (token !== undefined && token !== expired ? token : fetchToken()),
    };
  }
  if (apiKey === undefined) throw new TypeError("createApiClient() needs `apiKey` or `getToken`");
  return { renewable: false, current: () => Promise.resolve(apiKey), renew: () => Promise.resolve(apiKey) };
}

export function isAbort(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === "AbortError";
}
