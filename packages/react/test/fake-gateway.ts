import type { ApiClient, PartTransport, Verification } from "@upload-gateway/client";
import { planParts } from "@upload-gateway/contract";

interface FakeUpload {
  fileName: string;
  contentLength: number;
  partSize: number;
  partsNumber: number;
  state: "uploading" | "completed" | "aborted";
  parts: Map<number, { eTag: string; size: number; bytes: Uint8Array }>;
}

/**
 * A gateway and its store in memory, for the hooks' tests: the real client's `upload()` runs against it (start,
 * resume, complete, abort through `client`; part PUTs through `transport`). Each PUT waits until `release()` lets it
 * through, so a test decides when parts land.
 */
export class FakeGateway {
  readonly uploads = new Map<string, FakeUpload>();
  readonly calls: string[] = [];
  /**
   * The content check's verdict `success` answers with: findings (`undefined`, as from a gateway that does not check),
   * or an error to throw (a `CONTENT_REJECTED` refusal).
   */
  verdict: Verification | Error | undefined;
  private held = new Map<string, () => void>();
  private next = 1;

  readonly client = {
    start: (_projectId, body) => {
      const contentLength = Number(body.contentLength);
      const planned = planParts(contentLength, body.partsNumber);
      if (!planned.ok) throw new Error("bad plan");
      const requestKey = `k${this.next++}`;
      this.uploads.set(requestKey, { fileName: body.fileName, ...planned.plan, state: "uploading", parts: new Map() });
      this.calls.push(`start ${requestKey}`);
      return Promise.resolve(this.reply(requestKey));
    },
    resume: (_projectId, { requestKey }) => {
      this.calls.push(`resume ${requestKey}`);
      const upload = this.uploads.get(requestKey)!;
      const uploadedParts = [...upload.parts].map(([partNumber, p]) => ({ partNumber, eTag: p.eTag, size: p.size }));
      return Promise.resolve({ ...this.reply(requestKey), uploadedParts });
    },
    complete: (_projectId, { requestKey, parts }) => {
      this.calls.push(`complete ${requestKey} ${parts.length}`);
      this.uploads.get(requestKey)!.state = "completed";
      return Promise.resolve(true as const);
    },
    downloadUrl: (_projectId, requestKey) => {
      this.calls.push(`success ${requestKey}`);
      if (this.verdict instanceof Error) return Promise.reject(this.verdict);
      const link = { downloadPath: `https://store.test/${requestKey}`, expiresAt: new Date().toISOString() };
      return Promise.resolve(this.verdict ? { ...link, verification: this.verdict } : link);
    },
    abort: (_projectId, requestKey) => {
      this.calls.push(`abort ${requestKey}`);
      this.uploads.get(requestKey)!.state = "aborted";
      return Promise.resolve(true as const);
    },
    get: (_projectId, requestKey) => {
      this.calls.push(`get ${requestKey}`);
      const upload = this.uploads.get(requestKey);
      if (!upload) return Promise.reject(new Error("unknown"));
      const uploadedParts = [...upload.parts].map(([partNumber, p]) => ({ partNumber, eTag: p.eTag, size: p.size }));
      const verification = this.verdict instanceof Error ? undefined : this.verdict;
      return Promise.resolve({ state: upload.state, uploadedParts, verification } as unknown as Awaited<
        ReturnType<ApiClient["get"]>
      >);
    },
  } as Pick<ApiClient, "start" | "resume" | "complete" | "downloadUrl" | "abort" | "get"> as ApiClient;

  readonly transport: PartTransport = {
    reportsProgress: true,
    hashesWhileSending: false,
    send: async ({ url, body, signal, onProgress }) => {
      const [requestKey, part] = new URL(url).pathname.slice(1).split("/");
      const upload = this.uploads.get(requestKey!)!;
      onProgress?.(Math.floor(body.size / 2));
      await new Promise<void>((resolve, reject) => {
        this.held.set(`${requestKey}/${part}`, resolve);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      if (upload.state === "aborted") return { status: 404, eTag: null, retryAfter: null };
      const eTag = `"etag-${part}"`;
      upload.parts.set(Number(part), { eTag, size: body.size, bytes: new Uint8Array(await body.arrayBuffer()) });
      return { status: 200, eTag, retryAfter: null };
    },
  };

  /** PUTs waiting for `release()`. */
  get waiting(): number {
    return this.held.size;
  }

  /** Whether the PUT of this part is waiting. */
  holds(requestKey: string, partNumber: number): boolean {
    return this.held.has(`${requestKey}/${partNumber}`);
  }

  /** Lets the waiting PUTs of these parts (all when none are named) store their parts. */
  release(requestKey?: string, ...partNumbers: number[]): void {
    for (const [key, go] of this.held) {
      if (requestKey && !partNumbers.some((n) => key === `${requestKey}/${n}`)) continue;
      this.held.delete(key);
      go();
    }
  }

  private reply(requestKey: string) {
    const upload = this.uploads.get(requestKey)!;
    const presignedUrl = Array.from({ length: upload.partsNumber }, (_, i) => i + 1)
      .filter((n) => !upload.parts.has(n))
      .map((partNumber) => ({ partNumber, presignedUrl: `https://store.test/${requestKey}/${partNumber}` }));
    return {
      uploadId: `u-${requestKey}`,
      requestKey,
      presignedUrl,
      partSize: upload.partSize,
      partsNumber: upload.partsNumber,
      contentLength: String(upload.contentLength),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
  }
}
