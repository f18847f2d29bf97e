import type { LoggerService, LogLevel } from "@nestjs/common";
import type { Logger } from "pino";

/** Start-up chatter (one line per module, route and handler) that says nothing an operator acts on. */
const DEBUG_CONTEXTS = new Set(["RoutesResolver", "RouterExplorer", "InstanceLoader"]);

/**
 * Nest's logger, writing through the process's pino logger so Nest's lines are JSON like every other line, with
 * `context` as a field. Route-mapping and module-loading lines go to debug.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = contextOf(rest);
    this.write(context !== undefined && DEBUG_CONTEXTS.has(context) ? "debug" : "info", message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write("error", message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write("warn", message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write("debug", message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write("trace", message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write("fatal", message, rest);
  }
  /** Levels are the pino logger's (`LOG_LEVEL`); Nest's own filter is not used. */
  setLogLevels(_levels: LogLevel[]): void {}

  private write(
    level: "fatal" | "error" | "warn" | "info" | "debug" | "trace",
    message: unknown,
    rest: unknown[],
  ): void {
    const context = contextOf(rest);
    // Nest passes an error's stack as the second argument of `error(message, stack, context)`.
    const stack =
      level === "error" || level === "fatal"
        ? rest.find((r, i) => i < rest.length - 1 && typeof r === "string")
        : undefined;
    const fields = { ...(context ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (typeof message === "object" && message !== null) this.logger[level]({ ...fields, ...message });
    else this.logger[level](fields, String(message));
  }
}

/** Nest passes the context (the logging class's name) as the last string argument. */
function contextOf(rest: unknown[]): string | undefined {
  const last = rest[rest.length - 1];
  return typeof last === "string" ? last : undefined;
}
