import { vi } from "vitest";

// The test files share one process (isolate: false in vitest.config.ts) for the sake of their dependencies, which stay
// loaded. Our own modules are run afresh for each file, so that no file sees state another left in them.
vi.resetModules();
