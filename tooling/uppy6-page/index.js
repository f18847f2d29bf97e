// What the Uppy 6 test page is given, resolved from this folder (Uppy 6), not from the web app's (Uppy 5).
export { default as Uppy } from "@uppy/core";
export { default as AwsS3 } from "@uppy/aws-s3";
export { default as Dashboard } from "@uppy/dashboard";
export { gatewaySignRequestOptions } from "@upload-gateway/uppy";
