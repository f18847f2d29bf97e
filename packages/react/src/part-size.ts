const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * 1024 * MiB;

/**
 * A part size that gives a file about `targetParts` parts (default 256): 5 MiB parts up to ~1.25 GiB, then larger
 * ones. Enough parts to watch and to resume at a fine grain, few enough for a per-part view to stay readable.
 */
export function partSizeFor(size: number, targetParts = 256): number {
  const even = Math.ceil(size / targetParts / MiB) * MiB;
  return Math.min(MAX_PART, Math.max(MIN_PART, even));
}
