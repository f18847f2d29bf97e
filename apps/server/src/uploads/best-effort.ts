import type { Logger } from "@nestjs/common";

/** Cleans up after a request; a failure is logged, not thrown (the request's outcome stands). */
export async function bestEffort(logger: Pick<Logger, "warn">, what: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    logger.warn(`Could not ${what}: ${(error as Error).message}`);
  }
}
