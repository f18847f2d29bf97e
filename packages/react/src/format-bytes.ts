const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"] as const;

/** `25165824` → `"24.0 MiB"`; binary units, as the gateway's limits are written. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}
