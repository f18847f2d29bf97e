import type { ByteSource } from "./byte-source";

/**
 * What a scanner says of an object:
 * - `clean`: nothing found;
 * - `infected`: `signature` names what was found;
 * - `rejected`: the scanner refuses the file for a reason of its own (a classifier, a policy); `message` says why;
 * - `error`: the scanner could not decide (unreachable, timed out, the object over its size limit); `message` says
 *   why. Never a pass: a policy retries or refuses, as it chooses.
 */
export interface ScanResult {
  verdict: "clean" | "infected" | "rejected" | "error";
  signature?: string;
  message?: string;
}

/**
 * A content scanner (an antivirus, a classifier): reads the stored object through `target` (ranged reads, never the
 * whole object at once) and gives its verdict. `scan` does not throw: a failure is an `error` verdict.
 */
export interface ContentScanner {
  /** Names the scanner in results and logs, e.g. `clamav`. */
  readonly name: string;
  scan(target: ByteSource): Promise<ScanResult>;
}
