import { generateOpenApi } from "@ts-rest/open-api";
import { contract, ERROR_CODES, type ErrorCode } from "@upload-gateway/contract";

const MiB = 1024 * 1024;

/** The seed page's own example, as the start operation's example. */
const startExample = {
  request: { partsNumber: 3, fileName: "fileName.mp4", contentLength: String(10 * MiB + 1024), mimeType: "video/mp4" },
  response: {
    success: true,
    errors: [],
    messages: [],
    result: {
      uploadId: "uploadId",
      requestKey: "requestKey",
      presignedUrl: [1, 2, 3].map((partNumber) => ({ partNumber, presignedUrl: "presignedUrl" })),
      partSize: 5 * MiB,
      partsNumber: 3,
      contentLength: String(10 * MiB + 1024),
      expiresAt: "2026-01-01T12:00:00.000Z",
    },
    resultInfo: null,
    statusCode: 200,
  },
};

const errorExample = {
  success: false,
  errors: ["partsNumber: must be from 1 to 10000"],
  messages: [],
  result: null,
  resultInfo: null,
  statusCode: 400,
  errorDetails: [
    { code: "VALIDATION_FAILED", field: "partsNumber", message: "must be from 1 to 10000", retryable: false },
  ],
};

type Response = { description?: string; content?: Record<string, { schema?: unknown; example?: unknown }> };
type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: { content?: Record<string, { example?: unknown }> };
  responses?: Record<string, Response>;
};

/**
 * An operation's error responses: exactly the statuses of the codes its route declares it can answer (the contract's
 * `metadata.errorCodes`), each described by its codes; not every status the envelope knows.
 */
function documentErrors<T extends { operationId?: string; responses?: unknown }>(operation: T, metadata: unknown): T {
  const codes = (metadata as { errorCodes?: ErrorCode[] } | undefined)?.errorCodes;
  if (!codes) throw new Error(`operation ${operation.operationId} declares no errorCodes in its contract metadata`);
  const responses = (operation.responses ?? {}) as Record<string, Response>;
  const errorContent = Object.entries(responses).find(([status]) => Number(status) >= 400)?.[1].content;
  const kept: Record<string, Response> = Object.fromEntries(
    Object.entries(responses).filter(([status]) => Number(status) < 400),
  );
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes)
    byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    kept[String(status)] = {
      description: statusCodes.map((code) => `\`${code}\`: ${ERROR_CODES[code].message}`).join("\n\n"),
      ...(errorContent ? { content: structuredClone(errorContent) } : {}),
    };
  }
  return { ...operation, responses: kept };
}

/** The OpenAPI 3.0 document of the whole contract, with bearer auth, and the seed's examples. */
export function buildOpenApiDocument(serverUrl: string): Record<string, unknown> {
  const document = generateOpenApi(
    contract,
    {
      info: {
        title: "Upload Gateway",
        version: "0.1.0",
        description:
          "Direct-to-storage multipart uploads. Start an upload to get one presigned URL per part, PUT each part to " +
          "its URL (the reply's ETag header is the part's eTag), then complete. Every reply is the envelope " +
          "`{success, errors, messages, result, resultInfo, statusCode}`; errors add `errorDetails`.",
        license: { name: "MIT", url: "https://opensource.org/license/mit" },
      },
      servers: [{ url: serverUrl, description: "This gateway" }],
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description:
              "The project's API key, or an upload token (`POST /api/projects/{projectId}/upload-tokens`) on the upload routes",
          },
        },
      },
    },
    {
      setOperationId: "concatenated-path",
      operationMapper: (operation, route) => documentErrors(operation, route.metadata),
    },
  ) as { paths: Record<string, Record<string, Operation>> } & Record<string, unknown>;

  for (const [path, operations] of Object.entries(document.paths)) {
    for (const operation of Object.values(operations)) {
      // Only the project routes need a key; health probes and the dev session (loopback only) are open.
      operation.security = path.startsWith("/api/projects/") ? [{ apiKey: [] }] : [];
      const badRequest = operation.responses?.["400"]?.content?.["application/json"];
      if (badRequest) badRequest.example = errorExample;
    }
  }
  const start = document.paths["/api/projects/{projectId}/uploads/multipart"]?.post;
  const startBody = start?.requestBody?.content?.["application/json"];
  if (startBody) startBody.example = startExample.request;
  const startOk = start?.responses?.["200"]?.content?.["application/json"];
  if (startOk) startOk.example = startExample.response;
  return document;
}
