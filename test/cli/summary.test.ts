/**
 * The people summary (stderr): a grammar gap is a note on a file indexed as ok, so it is counted on a line of its
 * own, not among the errors. Real child process running bin/mcp-index.js (built dist/), real tree-sitter and SQLite.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanupTemp, lines, runCli, tempDir, writeFiles } from './helpers.js';

afterAll(cleanupTemp);

it('counts syntax errors as errors and grammar gaps apart', { timeout: 120_000 }, async () => {
  const tmp = tempDir('summary');
  const repo = join(tmp, 'repo');
  writeFiles(repo, {
    'gap.go': 'package p\n\ntype T int', // valid Go that tree-sitter-go 0.25.0 rejects (no newline at the end)
    'broken.py': 'def f(:\n    pass\n',
    'ok.py': 'def ok():\n    pass\n',
  });
  const r = await runCli([repo, '--out', join(tmp, 'index.db'), '--progress', 'none']);
  expect(r.code, r.stderr).toBe(0);
  const out = lines(r.stderr);
  expect(out).toContain('  errors:   1 files (syntax 1)');
  expect(out).toContain('  gaps:     1 files indexed as ok with a grammar-gap note (valid code the grammar does not parse)');
});
