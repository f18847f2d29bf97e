import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import type { RateLimitStore, Verdict } from "./rate-limit-store.port";
import { bucketVerdict } from "./token-bucket";

/**
 * One take, atomic in Redis (a script runs alone): refill the bucket for the time since its last take, on Redis's
 * clock (one clock for every replica, whatever theirs say), take `cost` if it holds that many, and let the key expire
 * once the bucket would be full again (a full bucket is the same as none). The tokens go back as a string: Redis
 * truncates Lua numbers to integers in replies.
 * KEYS[1]: the bucket; ARGV: cost, tokens per millisecond, burst.
 */
const TAKE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local cost = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return { allowed, tostring(tokens) }
`;

type TakeCommand = (key: string, cost: number, ratePerMs: string, burst: number) => Promise<[number, string]>;

/** What the Redis store tells about its failures; it serves on whatever happens (fails open). */
export interface RedisStoreEvents {
  /** A take Redis did not answer in time, or refused: the request was let through uncounted. */
  failedTake(error: Error): void;
  /** The connection failed or dropped (the client reconnects by itself). */
  connectionError(error: Error): void;
  /** Connected and ready, at start or after an outage. */
  ready(): void;
}

export interface RedisRateLimitStoreOptions {
  /** redis:// or rediss:// (TLS), with a user, password and database number when needed. */
  url: string;
  /** How long a take may wait for Redis before its request is let through uncounted. */
  commandTimeoutMs: number;
  events: RedisStoreEvents;
  /** Prepended to every key (tests keep their keys apart with it). */
  keyPrefix?: string;
  /**
   * Takes sent and not yet answered beyond which new ones fail open without being sent: a hung Redis keeps every
   * command it was sent (the client must match replies in order), so a flood during a hang must not grow memory.
   */
  maxUnanswered?: number;
  /**
   * How long takes may go unanswered, with no reply at all meanwhile, before the connection is dropped and made anew
   * (default 5 s): a connection whose other end vanished without closing it would otherwise wait on TCP's own
   * timeouts (minutes), every take failing open meanwhile.
   */
  stallMs?: number;
}

/**
 * Rate-limit buckets in Redis or Valkey, shared by every replica that uses the same server: each take is one script
 * (EVALSHA, EVAL when the server lost its script cache). Built never to hold a request up: commands fail at once
 * while disconnected (no offline queue, no retries) and after `commandTimeoutMs` when Redis hangs; the client
 * reconnects by itself, every second at most, and is made to when Redis has answered nothing for `stallMs`.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly takeScript: TakeCommand;
  private readonly keyPrefix: string;
  private readonly commandTimeoutMs: number;
  private readonly maxUnanswered: number;
  private readonly stallMs: number;
  private unanswered = 0;
  /** Since when the takes in flight have waited with no reply at all (the last reply, or the first send after one). */
  private waitingSinceMs = 0;

  private constructor(
    private readonly client: Redis,
    private readonly events: RedisStoreEvents,
    options: RedisRateLimitStoreOptions,
  ) {
    client.defineCommand("uploadGatewayTake", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    const command = (client as unknown as { uploadGatewayTake: TakeCommand }).uploadGatewayTake;
    this.takeScript = command.bind(client);
    this.keyPrefix = options.keyPrefix ?? "upload-gateway:rate-limit:";
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.maxUnanswered = options.maxUnanswered ?? 1000;
    this.stallMs = options.stallMs ?? 5000;
  }

  /**
   * Connects, waiting for the first answer (or failure) up to `connectWaitMs`, so that a gateway starting beside a
   * healthy Redis counts its first requests; one that cannot reach Redis starts anyway and fails open.
   */
  static async connect(options: RedisRateLimitStoreOptions, connectWaitMs = 2000): Promise<RedisRateLimitStore> {
    // No `commandTimeout`: the client's would fire on a busy event loop before the reply waiting in the socket is
    // read (timers run before I/O), letting requests through uncounted exactly when a flood keeps the loop busy.
    const client = new Redis(options.url, {
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    const { events } = options;
    client.on("error", (error: Error) => events.connectionError(error));
    client.on("ready", () => events.ready());
    const store = new RedisRateLimitStore(client, events, options);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off("ready", done);
        client.off("error", done);
        resolve();
      };
      const timer = setTimeout(done, connectWaitMs);
      client.once("ready", done);
      client.once("error", done);
    });
    return store;
  }

  async take(key: string, cost: number, perMinute: number, burst: number): Promise<Verdict> {
    // Hashed: keys of a fixed size, and no API key names or token owners readable in Redis.
    const bucket = this.keyPrefix + createHash("sha256").update(key).digest("base64url");
    try {
      const ratePerMs = String(perMinute / 60_000);
      const [allowed, tokens] = await this.answerInTime(() => this.takeScript(bucket, cost, ratePerMs, burst));
      const left = Number(tokens);
      // Not what the script returns: something else answers at REDIS_URL (a proxy, another version of the key).
      if (!Number.isFinite(left)) throw new Error(`unexpected reply to the rate-limit script: ${String(tokens)}`);
      return bucketVerdict(allowed === 1, left, cost, perMinute, burst);
    } catch (error) {
      this.events.failedTake(error instanceof Error ? error : new Error(String(error)));
      return { allowed: true, counted: false, limit: burst, remaining: burst, retryAfterSeconds: 0, resetSeconds: 0 };
    }
  }

  /**
   * The command's reply, or an error once `commandTimeoutMs` has passed and the replies already received have been
   * read: the deadline is checked after one more turn of the event loop's I/O, so a loop that was busy for longer
   * than the timeout does not blame Redis for its own lateness.
   */
  private answerInTime<T>(send: () => Promise<T>): Promise<T> {
    if (this.unanswered >= this.maxUnanswered) {
      return Promise.reject(new Error(`${this.unanswered} rate-limit checks sent to Redis are still unanswered`));
    }
    if (this.unanswered === 0) this.waitingSinceMs = Date.now();
    this.unanswered += 1;
    const reply = send();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        setImmediate(() => {
          reject(new Error(`Redis did not answer within ${this.commandTimeoutMs} ms`));
          this.reconnectIfStalled();
        });
      }, this.commandTimeoutMs);
      reply
        .finally(() => {
          this.unanswered -= 1;
          this.waitingSinceMs = Date.now();
          clearTimeout(timer);
        })
        .then(resolve, reject);
    });
  }

  private reconnectIfStalled(): void {
    const silentMs = Date.now() - this.waitingSinceMs;
    if (this.unanswered === 0 || silentMs < this.stallMs) return;
    this.waitingSinceMs = Date.now();
    this.events.connectionError(new Error(`Redis answered nothing for ${silentMs} ms: connecting again`));
    // Fails the commands in flight (they failed open already) and connects anew through the retry strategy.
    this.client.disconnect(true);
  }

  close(): Promise<void> {
    // Nothing pending matters (a take in flight fails open), and QUIT would wait on a hung server.
    this.client.disconnect();
    return Promise.resolve();
  }
}
