import { readFileSync } from "node:fs";
import { UPLOAD_EVENT_TYPES, uploadEventTypeSchema } from "@upload-gateway/contract";
import { z } from "zod";
import { ConfigError, webOrigin } from "../config/app-config";

/** Project ids become part of storage keys, so they are restricted to a safe alphabet. */
export const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A URL that takes a project's upload events, signed with its secret (`webhooks` of a project, or the module's `webhooks.targets`). */
export const webhookTargetSchema = z.object({
  url: z
    .string()
    .url("must be an http(s) URL")
    .refine((url) => /^https?:\/\//i.test(url), "must be an http(s) URL"),
  secret: z.string().min(16, "must be at least 16 characters"),
  events: z
    .array(uploadEventTypeSchema)
    .min(1)
    .default([...UPLOAD_EVENT_TYPES])
    .describe("The event types sent to this URL; all when omitted."),
});
/** A webhook target as given (its `events` default to all). */
export type WebhookTarget = z.input<typeof webhookTargetSchema>;

/** Uploads a project may have in progress at once when its entry does not say. */
export const DEFAULT_MAX_OPEN_UPLOADS = 1000;

const projectsFileSchema = z.object({
  projects: z.array(
    z.object({
      id: z
        .string()
        .regex(PROJECT_ID, "must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
      allowedMimeTypes: z
        .array(z.string().min(1))
        .optional()
        .describe('Exact types ("video/mp4") or wildcards ("video/*"); all types when omitted.'),
      maxFileSize: z.number().int().min(1).optional(),
      rateLimitPerMinute: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe("Requests per minute per API key on this project (RATE_LIMIT_PER_MINUTE when omitted; 0: no limit)."),
      allowedOrigins: z
        .array(webOrigin)
        .optional()
        .describe("Web origins whose pages may call this project's routes, besides CORS_ORIGINS."),
      maxOpenUploads: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(`Uploads that may be in progress at once; ${DEFAULT_MAX_OPEN_UPLOADS} when omitted.`),
      maxDurationSeconds: z
        .number()
        .positive()
        .optional()
        .describe("The longest audio or video (seconds, as the content check measures it) an upload may carry."),
      requireMedia: z
        .boolean()
        .optional()
        .describe(
          "Uploads must be decodable audio or video of the kind their type names, checked on the stored bytes.",
        ),
      verifyFileHash: z
        .boolean()
        .optional()
        .describe("Read each stored object whole and compare its SHA-256 with the start's fileHash (HASH_MISMATCH)."),
      quarantine: z
        .boolean()
        .optional()
        .describe(
          "Keep a rejected upload's object instead of deleting it: moved off its key to " +
            "projects/{id}/quarantine/{requestKey}/object (no URL is ever made for it) and listed in " +
            "projects/{id}/quarantine/{requestKey}.json.",
        ),
      webhooks: z
        .array(webhookTargetSchema)
        .optional()
        .describe(
          "Signed webhooks: each event of the project's uploads is POSTed to every URL subscribed to its type.",
        ),
    }),
  ),
  apiKeys: z.array(
    z.object({
      name: z.string().min(1),
      sha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, "must be the SHA-256 of the key as 64 hex digits")
        .transform((hex) => hex.toLowerCase()),
      projects: z.array(z.string().min(1)).min(1),
    }),
  ),
});

export type ProjectsFile = z.output<typeof projectsFileSchema>;
export type Project = ProjectsFile["projects"][number];
export type ApiKeyEntry = ProjectsFile["apiKeys"][number];

/** Parses and validates a projects file's content; `source` names it in errors. */
export function parseProjectsFile(json: unknown, source: string): ProjectsFile {
  const parsed = projectsFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `PROJECTS_FILE ${source}: ${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  const ids = new Set<string>();
  for (const project of parsed.data.projects) {
    if (ids.has(project.id))
      throw new ConfigError([`PROJECTS_FILE ${source}: project "${project.id}" is listed twice`]);
    ids.add(project.id);
  }
  // Names say which key in the log; digests say which key is which. Either listed twice is a mistake to fix, not
  // to guess at (the first entry would win, silently, with its projects).
  const names = new Set<string>();
  const digests = new Set<string>();
  for (const key of parsed.data.apiKeys) {
    if (names.has(key.name)) {
      throw new ConfigError([
        `PROJECTS_FILE ${source}: API key name "${key.name}" is used twice; give each key its own name`,
      ]);
    }
    if (digests.has(key.sha256)) {
      throw new ConfigError([
        `PROJECTS_FILE ${source}: API key "${key.name}" has the sha256 of an earlier key; list each key once`,
      ]);
    }
    names.add(key.name);
    digests.add(key.sha256);
    for (const id of key.projects) {
      if (id !== "*" && !ids.has(id)) {
        throw new ConfigError([`PROJECTS_FILE ${source}: API key "${key.name}" names unknown project "${id}"`]);
      }
    }
  }
  return parsed.data;
}

export function readProjectsFile(path: string): ProjectsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([`PROJECTS_FILE: cannot read ${path}: ${(error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`PROJECTS_FILE: ${path} is not valid JSON: ${(error as Error).message}`]);
  }
  return parseProjectsFile(json, path);
}
