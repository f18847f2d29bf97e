// A setup file for the suites that are not a run's longest path (the server's is): their worker, and what it starts
// from now on (gateways, the CLI, npm), run a little below normal priority. In `pnpm test` every suite runs at once
// on a machine with too few cores for all of them; the server's, which ended last by half a minute, now gets the CPU
// first, and the others take what it leaves. Not the vitest process itself: the tests' RGW, started by its global
// setup, serves the server's suite too. (Chromium sets its own priorities.)
import { getPriority, setPriority } from "node:os";

/** Below normal (0), above the single packages' checks (10); the workspace's check runs at 5 too. */
const YIELDING = 5;

if (getPriority() < YIELDING) setPriority(YIELDING);
