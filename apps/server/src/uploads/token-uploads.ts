import { ApiError } from "../errors/api-error";
import { StorageError, type Storage } from "../storage/storage.port";
import { tokenUploadsKey } from "./upload-keys";

/** Compare-and-swap attempts; each lost one means another start of the same token took a place meanwhile. */
const MAX_SWAP_ATTEMPTS = 20;

interface TokenUploadCount {
  started: number;
  expiresAt: string;
}

/**
 * An upload token's `maxUploads`: how many uploads it has started, kept as a counter document in the store and
 * changed only by compare-and-swap (created with `If-None-Match: *`, then `If-Match` its version), so the limit holds
 * across replicas and racing starts: of starts racing for the last place, exactly one wins it.
 */
export class TokenUploads {
  constructor(private readonly storage: Storage) {}

  /** Counts one more upload for the token, or throws 403 `TOKEN_UPLOAD_LIMIT_REACHED` when it has started `max`. */
  async take(projectId: string, tokenId: string, max: number, expiresAt: Date): Promise<void> {
    const key = tokenUploadsKey(projectId, tokenId);
    for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
      const document = await this.storage.readDocument(key);
      const started = (document?.value as TokenUploadCount | undefined)?.started ?? 0;
      if (started >= max) {
        throw new ApiError({
          code: "TOKEN_UPLOAD_LIMIT_REACHED",
          message: `this upload token may start ${max} upload${max === 1 ? "" : "s"} and has started ${started}; get a new token`,
        });
      }
      const next: TokenUploadCount = { started: started + 1, expiresAt: expiresAt.toISOString() };
      const written = await this.storage.writeJson(
        key,
        next,
        document ? { ifMatch: document.version } : { ifNoneMatch: true },
      );
      if (written) return;
    }
    throw new StorageError("unavailable", "an upload token's counter changed under every attempt to update it");
  }

  /** Gives back the place of a start that failed, so a retry of it is not refused. */
  async giveBack(projectId: string, tokenId: string): Promise<void> {
    const key = tokenUploadsKey(projectId, tokenId);
    for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
      const document = await this.storage.readDocument(key);
      const count = document?.value as TokenUploadCount | undefined;
      if (!document || !count || count.started <= 0) return;
      if (await this.storage.writeJson(key, { ...count, started: count.started - 1 }, { ifMatch: document.version }))
        return;
    }
  }
}
