import { Controller, Inject, UseFilters, UseGuards } from "@nestjs/common";
import { TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import { ok, uploadTokensContract } from "@upload-gateway/contract";
import { toApiError } from "../errors/api-error";
import { EnvelopeExceptionFilter } from "../http/envelope-exception.filter";
import type { Principal } from "./principal";
import { AuthorizedPrincipal, ProjectAccessGuard, requireApiKey } from "./project-access.guard";
import { UploadTokens } from "./upload-tokens.service";

@Controller()
// Here as well as app-wide: embedded in another app, the gateway's routes still answer in its envelope.
@UseFilters(EnvelopeExceptionFilter)
@UseGuards(ProjectAccessGuard)
export class UploadTokensController {
  constructor(@Inject(UploadTokens) private readonly tokens: UploadTokens) {}

  @TsRestHandler(uploadTokensContract)
  handle(@AuthorizedPrincipal() principal: Principal) {
    return tsRestHandler(uploadTokensContract, {
      create: async ({ body }) => {
        try {
          requireApiKey(principal, "mint upload tokens");
          const mintedBy = principal.kind === "apiKey" ? principal.keyId : "";
          return { status: 200 as const, body: ok(await this.tokens.mint(principal.project.id, body, mintedBy)) };
        } catch (error) {
          const apiError = toApiError(error);
          if (!apiError) throw error;
          return { status: apiError.status, body: apiError.toEnvelope() };
        }
      },
    });
  }
}
