import { Controller, Inject, UseGuards } from "@nestjs/common";
import { TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import { ok, uploadsContract, type ErrorEnvelope, type ErrorStatus, type SuccessEnvelope } from "@upload-gateway/contract";
import { ApiKeyGuard, AuthorizedProject } from "../auth/api-key.guard";
import type { Project } from "../auth/projects-file";
import { toApiError } from "../errors/api-error";
import { UploadsService } from "./uploads.service";

type Reply<T> = { status: 200; body: SuccessEnvelope<T> } | { status: ErrorStatus; body: ErrorEnvelope };

/** Runs `work` and answers its result in the envelope; expected failures become typed error replies. */
async function reply<T>(work: () => Promise<T>): Promise<Reply<T>> {
  try {
    return { status: 200, body: ok(await work()) };
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) throw error; // a bug: the exception filter logs it and answers 500
    return { status: apiError.status, body: apiError.toEnvelope() };
  }
}

@Controller()
@UseGuards(ApiKeyGuard)
export class UploadsController {
  constructor(@Inject(UploadsService) private readonly uploads: UploadsService) {}

  @TsRestHandler(uploadsContract)
  handle(@AuthorizedProject() project: Project) {
    return tsRestHandler(uploadsContract, {
      start: ({ body, headers }) => reply(() => this.uploads.start(project, body, headers["idempotency-key"])),
      startSinglePut: ({ body, headers }) =>
        reply(() => this.uploads.startSinglePut(project, body, headers["idempotency-key"])),
      complete: ({ body }) => reply(() => this.uploads.complete(project, body)),
      abort: ({ body }) => reply(() => this.uploads.abort(project, body.requestKey)),
      resume: ({ body }) =>
        reply(() => this.uploads.resume(project, body.requestKey, body.presignedUrlExpiryTimeHours)),
      download: ({ params }) => reply(() => this.uploads.downloadUrl(project, params.requestKey)),
      get: ({ params }) => reply(() => this.uploads.details(project, params.requestKey)),
      list: ({ query }) => reply(() => this.uploads.list(project, query.cursor, query.limit)),
    });
  }
}
