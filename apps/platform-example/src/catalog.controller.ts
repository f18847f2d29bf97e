import { Controller, Inject, UseGuards } from "@nestjs/common";
import { TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import { CatalogService } from "./catalog.service";
import { mediaContract } from "./media.contract";
import { PlatformAccessGuard } from "./platform-access.guard";

/** The platform's own route, from the same composed contract as the gateway's. */
@Controller()
@UseGuards(PlatformAccessGuard)
export class CatalogController {
  constructor(@Inject(CatalogService) private readonly catalog: CatalogService) {}

  @TsRestHandler(mediaContract.catalog)
  list() {
    return tsRestHandler(mediaContract.catalog, ({ params }) =>
      Promise.resolve({ status: 200 as const, body: { entries: this.catalog.list(params.projectId) } }),
    );
  }
}
