/**
 * The README's option tables are generated from the one table of options (src/config/option-table.ts); this test
 * fails when they drift. `UPDATE_README=1 npx vitest run test/unit/option-table.test.ts` rewrites them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFlags, DEFAULTS, envName, markdownTable } from '../../src/config/option-table.js';
import { UsageError } from '../../src/errors.js';

const README = join(import.meta.dirname, '../../README.md');

describe('the option table', () => {
  it('the README tables match it', () => {
    let text = readFileSync(README, 'utf8');
    for (const group of ['index', 'cluster', 'cache'] as const) {
      const re = new RegExp(`(<!-- options:${group}[^>]*-->\\n)([\\s\\S]*?)(<!-- /options:${group} -->)`);
      const m = re.exec(text);
      expect(m, `README has no <!-- options:${group} --> section`).not.toBeNull();
      const table = markdownTable(group);
      if (process.env.UPDATE_README) text = text.replace(re, `$1${table}\n$3`);
      else expect(m![2]).toBe(table + '\n');
    }
    if (process.env.UPDATE_README) writeFileSync(README, text);
  });

  it('derives the environment name from the key', () => {
    expect(envName('maxFileSize')).toBe('MCP_INDEX_MAX_FILE_SIZE');
    expect(DEFAULTS.namespace).toBe('mcp-index');
  });

  it('every command validates its options with the one schema', () => {
    expect(() => checkFlags('worker', { namespace: 'a b' })).toThrow(UsageError);
    expect(() => checkFlags('up', { namespace: 'a b' })).toThrow(/namespace/);
    expect(() => checkFlags('worker', { threads: 257 })).toThrow(/threads/);
    expect(() => checkFlags('worker', { threads: 1.5 })).toThrow(/threads/);
    expect(checkFlags('status', { namespace: 'team:a', redis: 'redis://h' })).toEqual({ namespace: 'team:a', redis: 'redis://h' });
  });
});
