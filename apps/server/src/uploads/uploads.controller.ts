import { Controller, Inject, Optional, Req, UseFilters, UseGuards } from "@nestjs/common";
import { EnvelopeExceptionFilter } from "../http/envelope-exception.filter";
import { RequestValidationError, TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import {
  ok,
  uploadsContract,
  type ErrorEnvelope,
  type ErrorStatus,
  type StartUploadBody,
  type SuccessEnvelope,
} from "@upload-gateway/contract";
import type { Principal } from "../auth/principal";
import {
  AuthorizedPrincipal,
  AuthorizedProject,
  ProjectAccessGuard,
  requireApiKey,
} from "../auth/project-access.guard";
import type { Project } from "../auth/projects-file";
import { toApiError } from "../errors/api-error";
import type { StartBodySchema } from "./start-body";
import { START_BODY_SCHEMA } from "../tokens";
import { UploadsService } from "./uploads.service";

type Reply<T> = { status: 200; body: SuccessEnvelope<T> } | { status: ErrorStatus; body: ErrorEnvelope };

/** Runs `work` and answers its result in the envelope; expected failures become typed error replies. */
async function reply<T>(work: () => Promise<T>): Promise<Reply<T>> {
  try {
    return { status: 200, body: ok(await work()) };
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) throw error; // a bug: the exception filter logs it and answers 500
    if (apiError.retryAfterSeconds !== undefined) throw apiError; // the filter answers it with its Retry-After
    return { status: apiError.status, body: apiError.toEnvelope() };
  }
}

@Controller()
// Here as well as app-wide: embedded in another app, the gateway's routes still answer in its envelope.
@UseFilters(EnvelopeExceptionFilter)
@UseGuards(ProjectAccessGuard)
export class UploadsController {
  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Optional() @Inject(START_BODY_SCHEMA) private readonly startBody: StartBodySchema | null = null,
  ) {}

  @TsRestHandler(uploadsContract)
  handle(
    @AuthorizedProject() project: Project,
    @AuthorizedPrincipal() principal: Principal,
    @Req() request: { body: unknown },
  ) {
    // An upload token acts only on the uploads it started; checked before the route does anything.
    const own = async <T>(requestKey: string, work: () => Promise<T>): Promise<T> => {
      await this.uploads.checkAccess(project, requestKey, principal);
      return work();
    };
    return tsRestHandler(uploadsContract, {
      start: ({ body, headers }) =>
        reply(() =>
          this.uploads.start(project, this.extendedStart(request.body, body), headers["idempotency-key"], principal),
        ),
      startSinglePut: ({ body, headers }) =>
        reply(() => this.uploads.startSinglePut(project, body, headers["idempotency-key"], principal)),
      complete: ({ body }) => reply(() => own(body.requestKey, () => this.uploads.complete(project, body))),
      abort: ({ body }) => reply(() => own(body.requestKey, () => this.uploads.abort(project, body.requestKey))),
      resume: ({ body }) =>
        reply(() =>
          own(body.requestKey, () => this.uploads.resume(project, body.requestKey, body.presignedUrlExpiryTimeHours)),
        ),
      download: ({ params }) =>
        reply(() => own(params.requestKey, () => this.uploads.downloadUrl(project, params.requestKey))),
      get: ({ params }) => reply(() => own(params.requestKey, () => this.uploads.details(project, params.requestKey))),
      list: ({ query }) =>
        reply(async () => {
          requireApiKey(principal, "list the project's uploads");
          return this.uploads.list(project, query.cursor, query.limit);
        }),
    });
  }

  /**
   * The start body as the embedding app's extended schema parses it (its own fields kept, for its hooks), or as the
   * contract parsed it when there is none. Its problems are answered as the contract's are (400, naming the field).
   */
  private extendedStart(raw: unknown, parsed: StartUploadBody): StartUploadBody {
    if (!this.startBody) return parsed;
    const result = this.startBody.safeParse(raw);
    if (!result.success) throw new RequestValidationError(null, null, null, result.error);
    return result.data;
  }
}
