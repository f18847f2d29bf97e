import type { PartIntegrity } from "@upload-gateway/contract";
import { contentMd5OfHex, md5OfETag, type PartHasher } from "./part-hash";

/**
 * The checks that a part stored is the part sent: its MD5 sent as `Content-MD5` (the store refuses bytes that do not
 * match), its ETag compared with that MD5 where the store's ETags are MD5s, and a part (or single-PUT file) found
 * stored by an earlier attempt compared likewise. Each part is hashed once, however many attempts ask.
 */
export class PartIntegrityCheck {
  /** What the gateway said about the store's checks (absent from gateways older than the field). */
  integrity: PartIntegrity | undefined;
  /** Hex MD5s of parts, computed ahead of sending (promises, so one part is hashed once). */
  private readonly md5s = new Map<number, Promise<string>>();

  constructor(
    /** Whether parts are checked at all (`verifyParts`). */
    readonly verify: boolean,
    private readonly hashPart: PartHasher,
    /** Whether the transport reports the MD5 of what it sent (`PartTransport.hashesWhileSending`). */
    private readonly transportHashes: boolean,
    /** The bytes of a part, as planned (fails with `FileChangedError` if the file has other bytes there). */
    private readonly partBody: (partNumber: number) => Blob,
  ) {}

  get eTagIsMd5(): boolean {
    return this.integrity?.eTagIsMd5 === true;
  }

  /**
   * Whether parts are hashed before they are sent, for `Content-MD5`. Not when the transport hashes what it sends and
   * the store's ETags are MD5s: then comparing the ETag afterwards checks the same bytes without reading them twice
   * (Node reading from disk; see nodeHttpTransport). Always for a single PUT (`storesOnce`): its URL stores once, so
   * bytes corrupted on the way must be refused by the store (Content-MD5), as a mismatching ETag found afterwards could
   * not be mended.
   */
  hashesFirst(storesOnce: boolean): boolean {
    if (!this.verify) return false;
    return storesOnce || !(this.transportHashes && this.eTagIsMd5);
  }

  /** The part's hex MD5, computed once however many attempts ask for it. */
  md5Of(partNumber: number): Promise<string> {
    let md5 = this.md5s.get(partNumber);
    if (!md5) {
      md5 = this.hashPart(this.partBody(partNumber));
      this.md5s.set(partNumber, md5);
      // A failed hash (the file changed or went away) is not kept: the part's own attempt hashes again and fails then.
      md5.catch(() => this.md5s.delete(partNumber));
    }
    return md5;
  }

  /** Starts hashing a part that is about to be sent, when parts are hashed first. */
  prepare(partNumber: number, storesOnce: boolean): void {
    if (this.hashesFirst(storesOnce)) this.md5Of(partNumber).catch(() => undefined);
  }

  /** Drops a stored part's MD5. */
  forget(partNumber: number): void {
    this.md5s.delete(partNumber);
  }

  /** The MD5 to check a part's attempt with, and its `Content-MD5` header (unless the store said it ignores it). */
  async digestsFor(partNumber: number, storesOnce: boolean): Promise<{ md5?: string; contentMd5?: string }> {
    if (!this.hashesFirst(storesOnce)) return {};
    const md5 = await this.md5Of(partNumber);
    return this.integrity?.contentMd5 !== false ? { md5, contentMd5: contentMd5OfHex(md5) } : { md5 };
  }

  /** Whether a stored part's ETag says the store received other bytes than were sent (then send it again). */
  eTagContradicts(eTag: string | null, sentMd5: string | undefined): boolean {
    const storedMd5 = md5OfETag(eTag);
    return this.verify && this.eTagIsMd5 && storedMd5 !== undefined && sentMd5 !== undefined && storedMd5 !== sentMd5;
  }

  /**
   * Whether a part the store reports stored (an earlier attempt's reply was lost) is ours: its size matches, and its
   * MD5 where the ETag tells it. (Sent with Content-MD5, its bytes were checked on receipt.)
   */
  async storedPartIsOurs(partNumber: number, stored: { eTag: string; size: number } | undefined, size: number) {
    if (!stored || stored.size !== size) return false;
    const storedMd5 = this.eTagIsMd5 ? md5OfETag(stored.eTag) : undefined;
    if (!this.verify || !storedMd5) return true;
    return (await this.md5Of(partNumber)) === storedMd5;
  }
}
