import { z } from "zod";

/**
 * A whole number from `min` to `max`, each rule with its own message: `notWhole` for a fraction (default "must be an
 * integer"), and one range message for both ends that names the `unit` when there is one ("must be from 1 to 100
 * bytes"). `number` is the schema to start from: `z.coerce.number()` for a value read from a query string.
 */
export function boundedInt(
  min: number,
  max: number,
  options: { unit?: string; notWhole?: string; number?: z.ZodNumber } = {},
): z.ZodNumber {
  const range = `must be from ${min} to ${max}${options.unit ? ` ${options.unit}` : ""}`;
  return (options.number ?? z.number())
    .int(options.notWhole ?? "must be an integer")
    .min(min, range)
    .max(max, range);
}
