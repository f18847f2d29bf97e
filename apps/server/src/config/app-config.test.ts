import { describe, expect, it } from "vitest";
import { ConfigError, configWarnings, isDevMode, loadConfig, publicUrl, s3Credentials } from "./app-config";

const s3 = { STORAGE: "s3", S3_BUCKET: "videos", PROJECTS_FILE: "/etc/gateway/projects.json" };

describe("loadConfig", () => {
  it("starts with nothing set: local storage in ./.data on 127.0.0.1:3000, in dev mode", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3000, HOST: "127.0.0.1", STORAGE: "local", LOCAL_STORAGE_DIR: "./.data" });
    expect(isDevMode(config)).toBe(true);
    expect(publicUrl(config)).toBe("http://127.0.0.1:3000");
  });

  it("applies the documented S3 defaults", () => {
    expect(loadConfig(s3)).toMatchObject({
      STORAGE: "s3",
      S3_REGION: "us-east-1",
      S3_FORCE_PATH_STYLE: false,
      DOWNLOAD_URL_EXPIRY_SECONDS: 3600,
    });
    expect(isDevMode(loadConfig(s3))).toBe(false);
  });

  it("parses what it is given, treating empty variables as unset", () => {
    const config = loadConfig({
      ...s3,
      PORT: "8080",
      S3_ENDPOINT: "http://127.0.0.1:7480",
      S3_PUBLIC_ENDPOINT: "",
      S3_FORCE_PATH_STYLE: "true",
      PUBLIC_URL: "https://uploads.example.test/",
    });
    expect(config).toMatchObject({ PORT: 8080, S3_ENDPOINT: "http://127.0.0.1:7480", S3_FORCE_PATH_STYLE: true });
    expect(config.S3_PUBLIC_ENDPOINT).toBeUndefined();
    expect(publicUrl(config)).toBe("https://uploads.example.test");
  });

  it("names every bad variable", () => {
    const bad = { PORT: "http", S3_FORCE_PATH_STYLE: "maybe", S3_ENDPOINT: "not a url" };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    expect(() => loadConfig(bad)).toThrow(/PORT:[\s\S]*S3_ENDPOINT:[\s\S]*S3_FORCE_PATH_STYLE:/);
  });

  it("requires the bucket and the projects file in S3 mode, naming them", () => {
    expect(() => loadConfig({ STORAGE: "s3" })).toThrow(
      /S3_BUCKET: is required when STORAGE=s3[\s\S]*PROJECTS_FILE: is required/,
    );
    expect(() => loadConfig({ STORAGE: "ftp" })).toThrow(/STORAGE: must be "local" or "s3"/);
  });

  it("keeps the dev key to local storage on loopback", () => {
    expect(() => loadConfig({ ...s3, DEV_API_KEY: "0123456789abcdef" })).toThrow(
      /DEV_API_KEY: works only with STORAGE=local/,
    );
    expect(() => loadConfig({ HOST: "0.0.0.0" })).toThrow(
      /PROJECTS_FILE: is required when HOST \(0\.0\.0\.0\) is not a loopback/,
    );
    expect(isDevMode(loadConfig({ HOST: "0.0.0.0", PROJECTS_FILE: "/p.json", PUBLIC_URL: "http://gw.test" }))).toBe(
      false,
    );
    expect(isDevMode(loadConfig({ HOST: "::1" }))).toBe(true);
  });

  it("reads CLAMD_URL as tcp://host:port (off when unset), with its timeout and stream limit", () => {
    expect(loadConfig({}).CLAMD_URL).toBeUndefined();
    expect(loadConfig({})).toMatchObject({ CLAMD_TIMEOUT_SECONDS: 60, CLAMD_STREAM_MAX_BYTES: 26_214_400 });
    expect(loadConfig({ CLAMD_URL: "tcp://127.0.0.1:3310" }).CLAMD_URL).toEqual({ host: "127.0.0.1", port: 3310 });
    expect(loadConfig({ CLAMD_URL: "tcp://clamav.internal:3310/" }).CLAMD_URL).toEqual({
      host: "clamav.internal",
      port: 3310,
    });
    expect(loadConfig({ CLAMD_URL: "tcp://[::1]:3310" }).CLAMD_URL).toEqual({ host: "::1", port: 3310 });
    for (const bad of [
      "127.0.0.1:3310",
      "unix:///run/clamav/clamd.ctl",
      "tcp://host",
      "tcp://host:0",
      "tcp://host:70000",
      "tcp://a@b:1",
    ]) {
      expect(() => loadConfig({ CLAMD_URL: bad }), bad).toThrow(/CLAMD_URL: must be tcp:\/\/host:port/);
    }
    expect(() => loadConfig({ CLAMD_STREAM_MAX_BYTES: "lots" })).toThrow(/CLAMD_STREAM_MAX_BYTES: must be a number/);
  });

  it("reads TRUST_PROXY in Fastify's forms, off by default", () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "true" }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: "FALSE" }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "2" }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: " 10.0.0.0/8, ::1 ,loopback,192.168.0.0/255.255.0.0" }).TRUST_PROXY).toEqual([
      "10.0.0.0/8",
      "::1",
      "loopback",
      "192.168.0.0/255.255.0.0",
    ]);
  });

  it.each(["proxy.internal", "10.0.0.0/33", "::1/129", "10.0.0.1/8/8", ",", "1.2.3"])(
    "refuses TRUST_PROXY=%j, naming it",
    (value) => {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY: must be true, false, a hop count/);
    },
  );

  it("reads CORS_ORIGINS as exact, normalized origins, or *", () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: "HTTPS://App.Example.com:443/, http://127.0.0.1:5173" }).CORS_ORIGINS).toEqual([
      "https://app.example.com",
      "http://127.0.0.1:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).CORS_ORIGINS).toBe("*");
    expect(() => loadConfig({ CORS_ORIGINS: "*, https://a.example" })).toThrow(
      /CORS_ORIGINS: "\*" allows every origin/,
    );
  });

  it.each([
    "app.example.com",
    "https://app.example.com/path",
    "ftp://app.example.com",
    "https://user@app.example.com",
    "null",
  ])("refuses CORS_ORIGINS=%j, naming it", (value) => {
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/CORS_ORIGINS: .* is not an origin/);
  });

  it("reads UPLOAD_TOKEN_KEYS as kid:secret pairs, the first signing, and names a bad pair without its secret", () => {
    const a = "a".repeat(32);
    const b = "secret:with:colons-and-more-than-32-bytes";
    expect(loadConfig({ UPLOAD_TOKEN_KEYS: ` k2:${a} , k1:${b}` }).UPLOAD_TOKEN_KEYS).toEqual([
      { kid: "k2", secret: new TextEncoder().encode(a) },
      { kid: "k1", secret: new TextEncoder().encode(b) },
    ]);
    expect(loadConfig({}).UPLOAD_TOKEN_KEYS).toEqual([]);
    const tooShort = "s".repeat(31);
    for (const [value, message] of [
      [`k1:${tooShort}`, /key 1: the secret of "k1" must be at least 32 bytes/],
      [`${a}`, /key 1: must be kid:secret/],
      [`:${a}`, /key 1: must be kid:secret/],
      [`k1:${a},k1:${a}`, /key 2: kid "k1" is listed twice/],
      [`bad kid:${a}`, /key 1: must be kid:secret/],
    ] as const) {
      try {
        loadConfig({ UPLOAD_TOKEN_KEYS: value });
        expect.unreachable(value);
      } catch (error) {
        expect((error as ConfigError).problems.join("\n")).toMatch(message);
        expect((error as ConfigError).problems.join("\n")).not.toContain(a);
        expect((error as ConfigError).problems.join("\n")).not.toContain(tooShort);
      }
    }
  });

  it("accepts an identity provider's JWKS over https (http on loopback only), with its issuer and audience", () => {
    const idp = {
      AUTH_JWKS_URL: "https://idp.example/jwks.json",
      AUTH_JWT_ISSUER: "https://idp.example/",
      AUTH_JWT_AUDIENCE: "uploads",
    };
    expect(loadConfig(idp)).toMatchObject({ ...idp, AUTH_JWT_PROJECTS_CLAIM: "upload_gateway_projects" });
    expect(loadConfig({ ...idp, AUTH_JWKS_URL: "http://127.0.0.1:9999/jwks" }).AUTH_JWKS_URL).toBe(
      "http://127.0.0.1:9999/jwks",
    );
    expect(() => loadConfig({ ...idp, AUTH_JWKS_URL: "http://idp.example/jwks" })).toThrow(
      /AUTH_JWKS_URL: must be an https URL/,
    );
    expect(() => loadConfig({ AUTH_JWKS_URL: idp.AUTH_JWKS_URL })).toThrow(
      /AUTH_JWT_ISSUER: is required[\s\S]*AUTH_JWT_AUDIENCE: is required/,
    );
    expect(() => loadConfig({ AUTH_JWT_AUDIENCE: "uploads" })).toThrow(
      /AUTH_JWT_AUDIENCE: is used only with AUTH_JWKS_URL/,
    );
  });

  it("accepts a redis:// or rediss:// REDIS_URL, and says what else is wrong without repeating it", () => {
    expect(loadConfig({}).REDIS_URL).toBeUndefined();
    expect(loadConfig({}).REDIS_COMMAND_TIMEOUT_MS).toBe(200);
    for (const url of ["redis://127.0.0.1:6379", "rediss://user:pass@redis.internal:6380/2", "redis://[::1]:6379"]) {
      expect(loadConfig({ REDIS_URL: url }).REDIS_URL).toBe(url);
    }
    const password = "hunter2-the-password";
    for (const url of [`http://:${password}@redis:6379`, `redis:${password}`, `redis://:${password}@`, `${password}`]) {
      try {
        loadConfig({ REDIS_URL: url });
        expect.unreachable(url);
      } catch (error) {
        const problem = /^REDIS_URL: must be a redis:\/\/ or rediss:\/\//;
        expect((error as ConfigError).problems).toEqual([expect.stringMatching(problem)]);
        expect((error as ConfigError).message).not.toContain(password);
      }
    }
    expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "0" })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
  });

  it("defaults PUBLIC_URL to http://HOST:PORT, and requires it with local storage on every interface", () => {
    const projects = { PROJECTS_FILE: "/p.json" };
    expect(publicUrl(loadConfig({ ...projects, HOST: "192.0.2.7", PORT: "8080" }))).toBe("http://192.0.2.7:8080");
    expect(publicUrl(loadConfig({ HOST: "::1" }))).toBe("http://[::1]:3000");
    for (const HOST of ["0.0.0.0", "::"]) {
      expect(() => loadConfig({ ...projects, HOST })).toThrow(/^PUBLIC_URL: is required with STORAGE=local when HOST/);
      expect(publicUrl(loadConfig({ ...projects, HOST, PUBLIC_URL: "https://up.example.test" }))).toBe(
        "https://up.example.test",
      );
    }
    // In S3 mode part URLs are the store's: the gateway hands out none of its own, so a wildcard HOST is fine.
    expect(publicUrl(loadConfig({ ...s3, HOST: "0.0.0.0" }))).toBe("http://127.0.0.1:3000");
  });

  it("reports each problem as its own line naming the variable, never its value", () => {
    const secret = "short-secret-value";
    const error = (() => {
      try {
        loadConfig({ PORT: "http", LOCAL_SIGNING_SECRET: secret });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.problems).toEqual([
      "PORT: must be a port number",
      "LOCAL_SIGNING_SECRET: must be at least 32 characters",
    ]);
    expect(error?.message).not.toContain(secret);
  });
});

describe("configWarnings", () => {
  it("warns when S3 variables are set but the storage is local", () => {
    const env = { S3_ENDPOINT: "http://127.0.0.1:7480", S3_BUCKET: "videos" };
    expect(configWarnings(loadConfig(env), env)).toEqual([
      "S3_BUCKET, S3_ENDPOINT are set but STORAGE is local: uploads go to ./.data, not to S3 (set STORAGE=s3 to use S3)",
    ]);
    expect(configWarnings(loadConfig({ ...s3, ...env }), { ...s3, ...env })).toEqual([]);
    expect(configWarnings(loadConfig({}), { S3_BUCKET: "" })).toEqual([]);
  });
});

describe("s3Credentials", () => {
  it("reads the S3 credentials itself and hands them on, or leaves them to the SDK's provider chain", () => {
    expect(s3Credentials(loadConfig(s3))).toBeUndefined();
    const keys = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" };
    expect(s3Credentials(loadConfig({ ...s3, ...keys }))).toEqual({
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "secret",
    });
    expect(s3Credentials(loadConfig({ ...s3, ...keys, AWS_SESSION_TOKEN: "t" }))).toMatchObject({ sessionToken: "t" });
    expect(() => loadConfig({ ...s3, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE" })).toThrow(
      /AWS_SECRET_ACCESS_KEY: must be set together/,
    );
    expect(() => loadConfig({ ...s3, AWS_SESSION_TOKEN: "t" })).toThrow(/AWS_SESSION_TOKEN: needs/);
  });
});
