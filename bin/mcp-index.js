#!/usr/bin/env node
// Tiny launcher: the CLI lives in dist/ (built by `npm install` via the prepare script).
import('../dist/cli/main.js').then(
  async (m) => {
    await m.cli(process.argv.slice(2));
    // Every command has closed what it opened (pools drained, connections closed) by now. What a library leaves
    // behind must not delay the exit: ioredis's reply parser, for one, shrinks its buffer pool on a 50 ms interval
    // for about a second after a large reply. Output to a pipe is written asynchronously: let it drain first.
    await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
    process.exit();
  },
  (err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      console.error('mcp-index: not built yet: run `npm install` (or `npm run build`) in the package folder');
      process.exit(2);
    }
    throw err;
  },
);
