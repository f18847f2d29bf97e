export interface RedisServerOptions {
  /** The port to listen on (127.0.0.1); a free one by default. */
  port?: number;
  /** How long to wait for the server to accept connections (default 30 s). */
  startTimeoutMs?: number;
}

/** One redis-server process on 127.0.0.1, with no persistence, in a temp dir of its own. */
export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Stops the server (SIGTERM, or SIGKILL for a crash) and waits until it has exited; idempotent. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port, empty (nothing was persisted), once it was stopped. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, as with a hung server. */
  pause(): void;
  /** Unfreezes it (SIGCONT). */
  resume(): void;
  /** Stops the server and deletes its temp dir. */
  close(): Promise<void>;
}

/**
 * Starts Debian's `redis-server` (installed with apt-get first when missing and running as root) on a free port of
 * 127.0.0.1 in a fresh temp dir, with no RDB or AOF, and waits until it accepts connections.
 */
export declare function startRedisServer(options?: RedisServerOptions): Promise<RedisServer>;

/** Installs `redis-server` with apt-get if it is not on PATH (root only; otherwise throws, saying what to install). */
export declare function ensureRedisServerInstalled(): Promise<string>;
