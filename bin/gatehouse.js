#!/usr/bin/env node
// The one entry point. The compiled code lives in dist/ (built by `npm ci` through `prepare`).
import '../dist/src/cli/main.js';
