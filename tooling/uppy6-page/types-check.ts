// Compiled only (`pnpm typecheck`): the published types of @upload-gateway/uppy fit Uppy 6's own, as a TypeScript app
// meets them: the Uppy 6 instance is accepted as `uppy`, and the options as AwsS3's.
import { gatewaySignRequestOptions, type GatewaySignRequestPluginOptions } from "@upload-gateway/uppy";
import AwsS3, { type AwsS3Options } from "@uppy/aws-s3";
import Uppy, { type Body, type Meta } from "@uppy/core";

const uppy = new Uppy<Meta, Body>();
const options: GatewaySignRequestPluginOptions = gatewaySignRequestOptions({
  uppy,
  baseUrl: "https://uploads.example.com",
  getToken: () => "token",
  projectId: "films",
});
const pluginOptions: AwsS3Options<Meta, Body> = { ...options, limit: 4 };
uppy.use(AwsS3, pluginOptions);
