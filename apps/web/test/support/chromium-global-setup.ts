import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = "/usr/bin/chromium";

/** The lock .ci/run's background install of the tests' Debian packages holds (.ci/debian-packages.sh). */
const APT_LOCK = join(tmpdir(), "upload-gateway-apt.lock");

/**
 * vitest globalSetup: the browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
 * On a fresh machine (CI runs as root) it is installed once; elsewhere the error says what to run.
 */
export default function ensureChromium(): void {
  try {
    // Look once that install is done, not at a half-installed Chromium.
    execFileSync("flock", ["-w", "1800", APT_LOCK, "true"], { stdio: "ignore" });
  } catch (error) {
    // No flock (not Debian): there is no such install to wait for.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The browser tests need Debian's Chromium at ${CHROMIUM}: install it with "sudo apt-get install -y chromium".`,
    );
  }
  console.log(`chromium: ${CHROMIUM} is missing; installing Debian's chromium (apt-get)`);
  // Another package's setup may be running apt-get at the same moment: wait for its lock instead of failing.
  const apt = (...args: string[]) =>
    execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=900", ...args], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  apt("update", "-qq");
  apt("install", "-y", "-qq", "chromium");
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
}
