// A vitest setupFiles entry: gives each worker a bucket of its own on the throwaway RGW (see vitest-worker-bucket.js).
export {};
