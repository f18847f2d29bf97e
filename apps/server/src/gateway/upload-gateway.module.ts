import {
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
} from "@nestjs/common";
import { gatewayModule } from "./app.module";
import { normalizePrefix, setupFromOptions, type UploadGatewayOptions } from "./upload-gateway.options";

// The standalone server counts storage calls for its /metrics; an embedding app has its own metrics, if any.
const IGNORE_STORAGE_CALLS = (): void => {};

export interface UploadGatewayAsyncOptions {
  /** Where the gateway's routes go in the app: "/media" serves `/media/api/projects/...`; the root when omitted. */
  path?: string;
  imports?: ModuleMetadata["imports"];
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (...args: never[]) => UploadGatewayOptions | Promise<UploadGatewayOptions>;
}

/**
 * The Upload Gateway's API as a module of any Nest app, on Express (Nest's default) or Fastify: the upload routes,
 * their docs and health probes (and the embedded store's part and download URLs) under `path`. The app keeps its own routes, errors, CORS and
 * rate limits; failures on the gateway's routes answer in the gateway's envelope.
 */
@Module({})
export class UploadGatewayModule {
  static forRoot(options: UploadGatewayOptions & { path?: string }): DynamicModule {
    return UploadGatewayModule.forRootAsync({ path: options.path, useFactory: () => options });
  }

  static forRootAsync(options: UploadGatewayAsyncOptions): DynamicModule {
    const path = normalizePrefix(options.path);
    return gatewayModule(
      UploadGatewayModule,
      path,
      {
        imports: options.imports ?? [],
        inject: options.inject ?? [],
        useFactory: async (...args: never[]) =>
          setupFromOptions(await options.useFactory(...args), path, IGNORE_STORAGE_CALLS),
      },
      { standalone: false },
    );
  }
}
