// `@upload-gateway/server/testing`: what the workspace's other packages' tests use to run the server and commands.
export * from "./run-process";
export * from "./server-process";
export * from "./test-content";
