import type { IncomingHttpHeaders } from "node:http";
import type { Project } from "./projects-file";

/** What a custom resolver sees of a request to a project's routes. */
export interface AuthRequest {
  /** The `:projectId` of the path, as sent (not yet known to exist). */
  projectId: string;
  headers: IncomingHttpHeaders;
  /**
   * The HTTP platform's request object, for resolvers that need more (a session cookie, the client address): Fastify's
   * request or Express's, as the app runs on. `headers` and `projectId` are the same on both.
   */
  raw: unknown;
  /**
   * Set when the request's bearer is an upload token (or the identity provider's JWT) that the gateway has verified
   * and that names this project. There is no API key to check then: the resolver answers the project's rules, or null
   * (401) or an `ApiError` (404 PROJECT_NOT_FOUND) when the project is no longer one the app serves.
   */
  token?: AuthRequestToken;
}

/** What the resolver learns of a verified token. */
export interface AuthRequestToken {
  /** Minted by this gateway (`POST .../upload-tokens`), or signed by the configured identity provider. */
  issuer: "gateway" | "identity-provider";
  /** The token's `sub`: the subject it was minted for, or the identity provider's user. */
  subject?: string;
  expiresAt: Date;
}

/**
 * Decides who may use a project, in place of API keys: the project the request may use (its id must be the path's
 * `projectId`), or null for a request without valid credentials (401 UNAUTHORIZED). Throw an `ApiError` for any
 * other answer of the closed set (403 FORBIDDEN, 404 PROJECT_NOT_FOUND). What it lets in may do what an API key does.
 * Upload tokens and the identity provider's JWTs are verified by the gateway, not by the resolver: it is asked only
 * for their project's rules (`request.token`).
 */
export type AuthResolver = (request: AuthRequest) => Project | null | undefined | Promise<Project | null | undefined>;

/** Rules every project gets unless its own entry says otherwise (`limits` of the module's options). */
export type ProjectDefaults = Pick<
  Project,
  | "allowedMimeTypes"
  | "maxFileSize"
  | "maxOpenUploads"
  | "maxDurationSeconds"
  | "requireMedia"
  | "verifyFileHash"
  | "quarantine"
>;
