import { createHash, randomBytes } from "node:crypto";

/**
 * Storage keys are built only from ids the server issued or validated (project ids from the projects file, request
 * keys it generated), never from user text, so nothing a client sends can point outside its project's prefix.
 *
 *   projects/{projectId}/files/{requestKey}          the uploaded object
 *   projects/{projectId}/uploads/{requestKey}.json   the upload's record
 *   projects/{projectId}/hashes/{sha256(fileHash)}   a duplicate-check reservation
 *   projects/{projectId}/open/{slot}                 a place of an upload in progress (maxOpenUploads places)
 *   projects/{projectId}/idempotency/{sha256(key)}.json   the start an Idempotency-Key made
 *   projects/{projectId}/token-uploads/{sha256(jti)}.json  how many uploads an upload token with maxUploads started
 *   projects/_due/{kind}/{dueAt}/{id}                due work: webhook deliveries, expiries, content checks
 *                                                    (scheduling/due-index.ts)
 *   projects/{projectId}/quarantine/{requestKey}.json   a rejected upload whose object a `quarantine` project keeps
 *   projects/{projectId}/quarantine/{requestKey}/object  ... and that object, moved off its key
 */

// Request keys start with a fixed-width countdown of milliseconds so that a plain ascending key listing (all S3 can
// do) yields the newest uploads first; the random tail makes them unguessable.
const COUNTDOWN_FROM = 9_999_999_999_999;
const COUNTDOWN_DIGITS = 13;
const RANDOM_BYTES = 16; // 128 bits
const REQUEST_KEY = /^[0-9]{13}[A-Za-z0-9_-]{22}$/;

export function newRequestKey(now: number = Date.now()): string {
  const countdown = String(COUNTDOWN_FROM - now).padStart(COUNTDOWN_DIGITS, "0");
  return countdown + randomBytes(RANDOM_BYTES).toString("base64url");
}

/** Whether `value` has the shape of a request key this server issues (checked before it is used in any key). */
export function isRequestKey(value: string): boolean {
  return REQUEST_KEY.test(value);
}

export function objectKey(projectId: string, requestKey: string): string {
  return `projects/${projectId}/files/${requestKey}`;
}

/** What an object key naming function knows of the upload it names (the module's `objectKey` option). */
export interface ObjectKeyInput {
  projectId: string;
  requestKey: string;
  fileName: string;
  mimeType: string;
}

/**
 * Names the object an upload becomes, in place of `projects/{projectId}/files/{requestKey}`. Include the request key
 * (or something else unique): two uploads given the same key overwrite each other's object.
 */
export type ObjectKeyNamer = (upload: ObjectKeyInput) => string;

const MAX_OBJECT_KEY_BYTES = 1024; // S3's limit
// S3's "safe characters" for keys, in non-empty segments: nothing a URL, a shell or a file system reads specially.
const OBJECT_KEY = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

/**
 * Why an object key that the embedding app chose (its `objectKey` naming function, a `beforeStart` hook) cannot be
 * used, or undefined when it can. Anything but the gateway's own documents: under `projects/` only
 * `projects/{projectId}/files/...` (records, reservations and markers live beside it).
 */
export function objectKeyProblem(key: string, projectId: string): string | undefined {
  if (Buffer.byteLength(key) > MAX_OBJECT_KEY_BYTES) return `longer than ${MAX_OBJECT_KEY_BYTES} bytes`;
  if (!OBJECT_KEY.test(key)) return "use only A-Z a-z 0-9 ! - _ . * ' ( ) in non-empty segments separated by /";
  if (key.split("/").some((segment) => segment === "." || segment === "..")) return "no . or .. segments";
  // The gateway keeps its records, markers and reservations under projects/: an object there could overwrite one.
  if (key.startsWith("projects/") && !key.startsWith(`projects/${projectId}/files/`)) {
    return `under projects/ only projects/${projectId}/files/ holds objects`;
  }
  return undefined;
}

export function recordPrefix(projectId: string): string {
  return `projects/${projectId}/uploads/`;
}

export function recordKey(projectId: string, requestKey: string): string {
  return `${recordPrefix(projectId)}${requestKey}.json`;
}

/** The request key a record key names, or undefined for keys that are not records. */
export function requestKeyOfRecord(projectId: string, key: string): string | undefined {
  const prefix = recordPrefix(projectId);
  if (!key.startsWith(prefix) || !key.endsWith(".json")) return undefined;
  const requestKey = key.slice(prefix.length, -".json".length);
  return isRequestKey(requestKey) ? requestKey : undefined;
}

export function openSlotPrefix(projectId: string): string {
  return `projects/${projectId}/open/`;
}

/** The marker of place `slot` (0 ≤ slot < maxOpenUploads) of the project's uploads in progress. */
export function openSlotKey(projectId: string, slot: number): string {
  return `${openSlotPrefix(projectId)}${slot}`;
}

export function hashReservationKey(projectId: string, fileHash: string): string {
  // Hashing the client's hash gives a fixed-length, path-safe key whatever the client sent.
  return `projects/${projectId}/hashes/${createHash("sha256").update(fileHash, "utf8").digest("hex")}`;
}

export function idempotencyEntryKey(projectId: string, idempotencyKey: string): string {
  return `projects/${projectId}/idempotency/${createHash("sha256").update(idempotencyKey, "utf8").digest("hex")}.json`;
}

export function tokenUploadsKey(projectId: string, tokenId: string): string {
  return `projects/${projectId}/token-uploads/${createHash("sha256").update(tokenId, "utf8").digest("hex")}.json`;
}

/** `Content-Disposition` for a download keeping the original name: an ASCII fallback plus RFC 5987 UTF-8. */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
/** A rejected upload's entry in its project's quarantine list: where its object is kept, and why. */
export function quarantineKey(projectId: string, requestKey: string): string {
  return `projects/${projectId}/quarantine/${requestKey}.json`;
}

/**
 * Where a `quarantine` project's rejected object is moved: off its key (anything presigning that key would reach it),
 * under a prefix no URL is ever made for. Named `object`, not after the file: keys are never made of client text.
 */
export function quarantineObjectKey(projectId: string, requestKey: string): string {
  return `projects/${projectId}/quarantine/${requestKey}/object`;
}
