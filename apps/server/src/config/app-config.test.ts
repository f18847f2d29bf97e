import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./app-config";

const s3 = { S3_BUCKET: "videos", PROJECTS_FILE: "/etc/gateway/projects.json" };

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    expect(loadConfig(s3)).toMatchObject({
      PORT: 3000,
      HOST: "127.0.0.1",
      STORAGE: "s3",
      S3_REGION: "us-east-1",
      S3_FORCE_PATH_STYLE: false,
      DOWNLOAD_URL_EXPIRY_SECONDS: 3600,
    });
  });

  it("parses what it is given, treating empty variables as unset", () => {
    const config = loadConfig({
      ...s3,
      PORT: "8080",
      S3_ENDPOINT: "http://127.0.0.1:7480",
      S3_PUBLIC_ENDPOINT: "",
      S3_FORCE_PATH_STYLE: "true",
    });
    expect(config).toMatchObject({ PORT: 8080, S3_ENDPOINT: "http://127.0.0.1:7480", S3_FORCE_PATH_STYLE: true });
    expect(config.S3_PUBLIC_ENDPOINT).toBeUndefined();
  });

  it("names every bad variable", () => {
    expect(() => loadConfig({ PORT: "http", S3_FORCE_PATH_STYLE: "maybe", S3_ENDPOINT: "not a url" })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({ PORT: "http", S3_FORCE_PATH_STYLE: "maybe", S3_ENDPOINT: "not a url" });
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ["PORT", "S3_FORCE_PATH_STYLE", "S3_ENDPOINT"]) expect(message).toContain(`${name}:`);
    }
  });

  it("requires the bucket and the projects file in S3 mode", () => {
    expect(() => loadConfig({ STORAGE: "s3" })).toThrow(/S3_BUCKET: is required when STORAGE=s3[\s\S]*PROJECTS_FILE/);
    expect(() => loadConfig({ STORAGE: "ftp", ...s3 })).toThrow(/STORAGE:/);
  });
});
