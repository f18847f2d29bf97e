import { Module } from "@nestjs/common";
import { SiteController } from "./site.controller";
import { WebAppFiles } from "./web-app-files";

@Module({ providers: [{ provide: WebAppFiles, useFactory: () => new WebAppFiles() }], controllers: [SiteController] })
export class SiteModule {}
