#!/usr/bin/env node
// The server lives in dist/ once built; this stub exists before that, so installing the workspace can link the bin.
require("../dist/main.js");
