/* eslint-disable @typescript-eslint/require-await -- the in-memory routes answer at once, as the client's promises */
import { UploadGatewayError, type ApiClient } from "@upload-gateway/client";
import { planParts } from "@upload-gateway/contract";
import type { UppyForGateway } from "../src/sign-request-options";

/** One upload as the in-memory gateway keeps it: its plan and the parts "stored" by the test. */
interface Upload {
  uploadId: string;
  partsNumber: number;
  partSize: number;
  contentLength: string;
  stored: Map<number, string>;
  state: "uploading" | "completed" | "aborted";
  singlePut: boolean;
}

const EXPIRES = "2030-01-01T00:00:00.000Z";

/**
 * The gateway's upload routes in memory, as `@upload-gateway/client`'s `ApiClient`: the part plan of `planParts`,
 * URLs that say which signing they came from, and every call recorded (`calls`), so that tests see what the Uppy 6
 * options asked the gateway for. `partSizeOverride` makes the gateway plan other parts than asked.
 */
export function inMemoryGateway(options: { singlePutHeaders?: Record<string, string> } = {}) {
  const uploads = new Map<string, Upload>();
  const calls: string[] = [];
  let signings = 0;
  let next = 0;
  const conflict = (why: string) => new UploadGatewayError(409, { success: false, errors: [why], result: null });
  const notFound = () => new UploadGatewayError(404, { success: false, errors: ["no such upload"], result: null });
  const upload = (requestKey: string) => {
    const found = uploads.get(requestKey);
    if (!found || found.state === "aborted") throw notFound();
    return found;
  };
  const partUrls = (requestKey: string, u: Upload) => {
    signings += 1;
    const missing = Array.from({ length: u.partsNumber }, (_, i) => i + 1).filter((n) => !u.stored.has(n));
    const url = (partNumber: number) => `https://store.test/${requestKey}/${partNumber}?signing=${signings}`;
    return missing.map((partNumber) => ({ partNumber, presignedUrl: url(partNumber) }));
  };

  const client = {
    async start(_projectId, body) {
      calls.push(`start ${body.partsNumber} ${body.contentLength} ${body.mimeType} ${body.fileName}`);
      const planned = planParts(Number(body.contentLength), body.partsNumber);
      if (!planned.ok) throw new UploadGatewayError(400, { success: false, errors: ["no plan"], result: null });
      next += 1;
      const requestKey = `rk-${next}`;
      const u: Upload = {
        uploadId: `up-${next}`,
        partsNumber: planned.plan.partsNumber,
        partSize: planned.plan.partSize + (gateway.partSizeOverride ?? 0),
        contentLength: String(body.contentLength),
        stored: new Map(),
        state: "uploading",
        singlePut: false,
      };
      uploads.set(requestKey, u);
      return { ...view(requestKey, u), presignedUrl: partUrls(requestKey, u) };
    },
    async startSinglePut(_projectId, body) {
      calls.push(`url ${body.contentLength} ${body.mimeType} ${body.fileName}`);
      next += 1;
      const requestKey = `rk-${next}`;
      const u: Upload = {
        uploadId: "",
        partsNumber: 1,
        partSize: Number(body.contentLength),
        contentLength: String(body.contentLength),
        stored: new Map(),
        state: "uploading",
        singlePut: true,
      };
      uploads.set(requestKey, u);
      const url = `https://store.test/${requestKey}?single`;
      const answer = { url, requestKey, contentLength: u.contentLength, expiresAt: EXPIRES };
      return options.singlePutHeaders ? { ...answer, headers: options.singlePutHeaders } : answer;
    },
    async resume(_projectId, body) {
      calls.push(`resume ${body.requestKey}`);
      const u = upload(body.requestKey);
      const uploadedParts = [...u.stored].map(([partNumber, eTag]) => ({ partNumber, eTag, size: u.partSize }));
      return { ...view(body.requestKey, u), presignedUrl: partUrls(body.requestKey, u), uploadedParts };
    },
    async complete(_projectId, body) {
      calls.push(`complete ${body.requestKey} ${body.parts.map((p) => `${p.partNumber}=${p.eTag}`).join(",")}`);
      const u = upload(body.requestKey);
      if (u.state !== "uploading") throw conflict("done");
      u.state = "completed";
      return true as const;
    },
    async abort(_projectId, requestKey) {
      calls.push(`abort ${requestKey}`);
      const u = upload(requestKey);
      if (u.state !== "uploading") throw conflict("done");
      u.state = "aborted";
      return true as const;
    },
    async downloadUrl(_projectId, requestKey) {
      calls.push(`success ${requestKey}`);
      const u = upload(requestKey);
      if (u.singlePut) {
        if (!u.stored.has(1)) throw conflict("not stored");
        u.state = "completed";
      }
      return { downloadPath: `https://gateway.test/download/${requestKey}`, expiresAt: EXPIRES };
    },
  } satisfies Partial<ApiClient>;

  function view(requestKey: string, u: Upload) {
    const { uploadId, partsNumber, partSize, contentLength } = u;
    return { uploadId, requestKey, partsNumber, partSize, contentLength, expiresAt: EXPIRES };
  }

  const gateway = {
    client: client as unknown as ApiClient,
    calls,
    uploads,
    partSizeOverride: undefined as number | undefined,
    /** The test "PUTs" a part (or a single PUT's file, part 1) to the store. */
    store(requestKey: string, partNumber: number, eTag = `"etag-${partNumber}"`) {
      upload(requestKey).stored.set(partNumber, eTag);
    },
  };
  return gateway;
}

/** A file as Uppy 6 keeps it in its state, for the options' `uppy`. */
export interface FakeFile {
  id: string;
  name: string;
  size: number;
  type: string;
  error?: string | null;
  progress: { uploadComplete?: boolean };
  response?: { uploadURL?: string; [field: string]: unknown };
  uploadURL?: string;
}

/** What the options use of a Uppy 6 instance: its post-processing steps, file state and `upload-error`. */
export function fakeUppy() {
  const files = new Map<string, FakeFile>();
  const postProcessors: ((fileIDs: string[], uploadID: string) => Promise<void>)[] = [];
  const errors: { fileID: string; message: string }[] = [];
  const removedListeners: ((file: { id: string }) => void)[] = [];
  const uppy: UppyForGateway = {
    addPostProcessor: (fn) => void postProcessors.push(fn),
    getFile: (id) => files.get(id),
    setFileState: (id, state) => void files.set(id, { ...files.get(id)!, ...state }),
    emit: (_event, file, error) => void errors.push({ fileID: (file as FakeFile).id, message: error.message }),
    on: (_event, callback) => void removedListeners.push(callback),
  };
  return {
    uppy,
    files,
    errors,
    add(id: string, size: number, type = "video/mp4"): FakeFile {
      const file = { id, name: `${id}.mp4`, size, type, progress: {} };
      files.set(id, file);
      return file;
    },
    /** Removes a file, as Uppy 6 does (its `file-removed` event). */
    remove(id: string) {
      const file = files.get(id)!;
      files.delete(id);
      for (const listener of removedListeners) listener(file);
    },
    /** Runs the post-processing steps, as Uppy 6 does after its uploaders. */
    async postProcess(fileIDs: string[]) {
      for (const fn of postProcessors) await fn(fileIDs, "upload-1");
    },
  };
}
