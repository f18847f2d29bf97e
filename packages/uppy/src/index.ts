export { gatewayS3Options, type GatewayUppyOptions } from "./gateway-s3-options";
export {
  gatewaySignRequestOptions,
  S3RequestRefusedError,
  type GatewaySignRequestOptions,
  type GatewaySignRequestPluginOptions,
  type UppyForGateway,
  type UppyS3Request,
  type UppyS3Signature,
} from "./sign-request-options";
export { uppyPartPlan } from "./part-plan";
