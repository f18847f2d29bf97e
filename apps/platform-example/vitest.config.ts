import { withBase } from "@upload-gateway/vitest-config";
import swc from "unplugin-swc";

// esbuild drops decorator metadata, which Nest's injection needs; swc keeps it.
export default withBase({ plugins: [swc.vite({ module: { type: "es6" } })] });
