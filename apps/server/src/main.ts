#!/usr/bin/env node
// The `upload-gateway-server` bin (bin/ → dist/main.js) and `pnpm start`: the standalone server, in standalone/main.ts.
import "./standalone/main";
