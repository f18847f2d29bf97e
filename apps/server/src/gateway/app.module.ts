import { Module, type DynamicModule, type Type } from "@nestjs/common";
import { APP_FILTER, RouterModule } from "@nestjs/core";
import { AuthModule } from "../auth/auth.module";
import { DevModule } from "../standalone/dev/dev.module";
import { DocsModule } from "../docs/docs.module";
import { EnvelopeExceptionFilter } from "../http/envelope-exception.filter";
import { ApiNotFoundModule } from "./api-not-found.module";
import { GatewaySetupModule, type GatewaySetup, type GatewaySetupFactory } from "./gateway-setup.module";
import { HealthModule } from "../health/health.module";
import { ExpressJsonBody } from "../http/express-json-body";
import { LifecycleModule } from "./lifecycle.module";
import { LocalStoreHttpModule } from "../local-store-http/local-store-http.module";
import { SiteModule } from "../standalone/site/site.module";
import { StorageModule } from "./storage.module";
import { UploadsModule } from "../uploads/uploads.module";

/**
 * The gateway's modules, under `path`. Embedded (`standalone: false`) it is the API, its docs and health probes
 * only, and answers in the envelope on its own routes only; standalone it also serves the dev session and the demo
 * page, and turns every failure of the app (unknown routes included) into the envelope.
 */
export function gatewayModule(
  module: Type,
  path: string,
  setup: GatewaySetupFactory,
  { standalone }: { standalone: boolean },
): DynamicModule {
  // Every module with controllers of its own: RouterModule prefixes a module's own controllers, not its imports'.
  // Embedded, the catch-all of unknown API routes comes last (see ApiNotFoundController); standalone, the app-wide
  // filter answers them, and the 405 check needs them unmatched.
  const routed: Type[] = [
    UploadsModule,
    AuthModule,
    HealthModule,
    DocsModule,
    ...(standalone ? [DevModule, SiteModule] : [ApiNotFoundModule]),
  ];
  return {
    module,
    imports: [
      GatewaySetupModule.register(path, setup),
      LifecycleModule,
      StorageModule,
      LocalStoreHttpModule,
      ...routed,
      ...(path === "" ? [] : [RouterModule.register(routed.map((child) => ({ path, module: child })))]),
    ],
    providers: [ExpressJsonBody, ...(standalone ? [{ provide: APP_FILTER, useClass: EnvelopeExceptionFilter }] : [])],
  };
}

/** The standalone server's root module (`createApp`, `createUploadGateway`, the bin). */
@Module({})
export class AppModule {
  static forRoot(setup: GatewaySetup, path = ""): DynamicModule {
    return gatewayModule(AppModule, path, { useFactory: () => setup }, { standalone: true });
  }
}
