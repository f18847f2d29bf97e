/** The variables printed by `ceph-rgw.sh up`: S3_ENDPOINT, S3_REGION, S3_FORCE_PATH_STYLE, S3_BUCKET,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. */
export type S3Env = Record<string, string>;

export interface StartRgwOptions {
  /** Overall timeout of `ceph-rgw.sh up` (default 20 min: a first run may apt-get install Ceph). */
  timeoutMs?: number;
  /** Extra environment for the script (RGW_PORT, RGW_DIR, S3_BUCKET, ...). */
  env?: Record<string, string | undefined>;
  /** Receives the script's stderr (default: process.stderr). */
  log?: (chunk: string) => void;
}

export interface RgwHandle {
  env: S3Env;
  /** True when this call started the cluster, false when it reused a running one. */
  startedHere: boolean;
  /** Lease id held by this handle until stop(). */
  lease: string;
  /** Releases this handle. The cluster is stopped only if a test run (not a manual `up`) started it, no other
   * live process holds a lease on it, and RGW_KEEP is unset. Idempotent. */
  stop: () => Promise<void>;
}

export declare const scriptPath: string;
export declare const S3_ENV_KEYS: readonly string[];
export declare function parseExports(text: string): Record<string, string>;
export declare function startRgw(options?: StartRgwOptions): Promise<RgwHandle>;
/** Same as the default export of "@upload-gateway/ceph-rgw/vitest-global-setup" (typed there with vitest's types). */
export declare function rgwGlobalSetup(project?: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- vitest's provide() is generic over its ProvidedContext
  provide?: (key: any, value: any) => void;
}): Promise<() => Promise<void>>;
