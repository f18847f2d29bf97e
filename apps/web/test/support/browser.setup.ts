import { afterAll } from "vitest";
import { closeContextsOfFile } from "./browser";

// A setup file runs for each test file, also in a worker that keeps its modules: this hook is each file's own.
afterAll(closeContextsOfFile);
