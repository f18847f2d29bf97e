#!/usr/bin/env node
// The CLI lives in dist/ once built; this stub exists before that, so installing the workspace can link the bin.
import "../dist/cli.js";
