export * from "./limits";
export * from "./part-plan";
export * from "./errors";
export * from "./envelope";
export * from "./uploads.schemas";
export { contract, uploadsContract, type Contract } from "./uploads.contract";
export { healthContract, healthResultSchema } from "./health.contract";
export { devContract, devSessionSchema, type DevSession } from "./dev.contract";
export * from "./upload-events";
