import { execFileSync } from "node:child_process";

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
