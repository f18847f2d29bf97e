/** `import source from "inline-worker:./x.worker"`: the worker's code, bundled into one script (build/inline-worker.mjs). */
declare module "inline-worker:*" {
  const source: string;
  export default source;
}
