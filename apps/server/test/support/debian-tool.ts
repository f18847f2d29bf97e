import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The lock .ci/run's background install of the tests' Debian packages holds (.ci/debian-packages.sh). */
const APT_LOCK = join(tmpdir(), "upload-gateway-apt.lock");

/** Waits for that install, so as to look at installed packages, not half-installed ones. */
function waitForPreinstall(): void {
  try {
    execFileSync("flock", ["-w", "1800", APT_LOCK, "true"], { stdio: "ignore" });
  } catch (error) {
    // No flock (not Debian): there is no such install to wait for.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/**
 * Makes sure a program from a Debian package is there, installing the package when it is not (CI runs as root on a
 * fresh Debian machine, as for curl and Chromium). `probe` is a command that succeeds when the program is installed.
 */
export function ensureDebianTool(probe: string[], debianPackage: string): void {
  const has = () => {
    try {
      execFileSync(probe[0]!, probe.slice(1), { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  waitForPreinstall();
  if (has()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`this test needs ${probe[0]}: install it with "sudo apt-get install -y ${debianPackage}"`);
  }
  const apt = (...args: string[]) =>
    execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=900", ...args], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  apt("update", "-qq");
  apt("install", "-y", "-qq", "--no-install-recommends", debianPackage);
  if (!has()) throw new Error(`${probe[0]} is still missing after installing ${debianPackage}`);
}
