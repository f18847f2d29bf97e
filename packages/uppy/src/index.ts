export { gatewayS3Options, type GatewayUppyOptions } from "./gateway-s3-options";
export { uppyPartPlan } from "./part-plan";
