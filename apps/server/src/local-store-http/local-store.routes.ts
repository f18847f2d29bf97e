import type { ServedStore } from "../storage/served-store";
import { SERVED_PATHS, type ServedPath } from "../storage/served-urls";
import { getObject, preflight, putObject, putPart, type StoreReply, type StoreRequest } from "./local-store.handlers";

export type StoreMethod = "GET" | "HEAD" | "PUT" | "OPTIONS";

/** One route of a served store's URLs: declared once here, registered by each router in its own syntax. */
export interface StoreRoute {
  methods: readonly StoreMethod[];
  /** Below the gateway's path prefix; `:name` and `*name` segments are the `params` the handler gets. */
  path: ServedPath;
  /** Whether the request carries a body: streamed to the store as it arrives, never parsed. */
  body: boolean;
  handle(store: ServedStore, request: StoreRequest, params: Readonly<Record<string, string>>): Promise<StoreReply>;
}

/**
 * The embedded store's S3-like routes (and the in-memory store's, in tests): local-store.fastify.ts and
 * local-store.express.ts register them on the gateway, test/support/memory-store.ts on a plain Node server. Replies
 * are never compressed: objects are served byte for byte, as S3 does.
 */
export const STORE_ROUTES: readonly StoreRoute[] = [
  { methods: ["OPTIONS"], path: SERVED_PATHS.any, body: false, handle: () => preflight() },
  {
    methods: ["PUT"],
    path: SERVED_PATHS.part,
    body: true,
    handle: (store, request, { uploadId = "", partNumber = "" }) => putPart(store, request, { uploadId, partNumber }),
  },
  {
    methods: ["PUT"],
    path: SERVED_PATHS.object,
    body: true,
    handle: (store, request, { key = "" }) => putObject(store, request, key),
  },
  {
    methods: ["GET", "HEAD"],
    path: SERVED_PATHS.object,
    body: false,
    handle: (store, request, { key = "" }) => getObject(store, request, key),
  },
];

/** The name of a route's `*name` segment (the rest of the path), if it has one. */
export function restParam(path: readonly string[]): string | undefined {
  return path.find((segment) => segment.startsWith("*"))?.slice(1);
}
