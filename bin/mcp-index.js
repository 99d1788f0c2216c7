#!/usr/bin/env node
// Tiny launcher: the CLI lives in dist/ (built by `npm install` via the prepare script).
import('../dist/cli/main.js').then(
  (m) => m.cli(process.argv.slice(2)),
  (err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      console.error('mcp-index: not built yet: run `npm install` (or `npm run build`) in the package folder');
      process.exit(2);
    }
    throw err;
  },
);
