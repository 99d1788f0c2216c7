/**
 * The `languages` key (config file, `--languages`, MCP_INDEX_LANGUAGES): files of a language turned off are not
 * indexed, are counted per language in the summary, and leave the index on the next run; an unknown name is a
 * usage error. Real child processes running bin/mcp-index.js (built dist/), real tree-sitter and SQLite.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, lines, runCli, tempDir, writeFiles } from './helpers.js';

afterAll(cleanupTemp);

describe('the languages key', { timeout: 120_000 }, () => {
  let tmp: string;
  let repo: string;

  beforeAll(() => {
    tmp = tempDir('languages');
    repo = join(tmp, 'repo');
    writeFiles(repo, {
      'app/main.go': 'package main\n\nfunc main() {}\n',
      'app/util.go': 'package main\n\nfunc helper() {}\n',
      'src/App.java': 'class App { void run() {} }\n',
      'web/index.php': '<?php\nfunction page() {}\n',
      'tools/build.py': 'def build():\n    pass\n',
    });
  });

  const summaryOf = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli([repo, '--json', '--progress', 'none', ...args], { env });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('--languages go,python indexes only those and counts the others per language', async () => {
    const s = await summaryOf(['--out', join(tmp, 'flag.db'), '--languages', 'go,python']);
    expect(s.index.byLanguage).toEqual({ go: 2, python: 1 });
    expect(s.run.languagesOff).toEqual({ java: 1, php: 1 });
  });

  it('a repeated flag and the environment variable work the same way', async () => {
    const repeated = await summaryOf(['--out', join(tmp, 'repeated.db'), '--languages', 'java', '--languages', 'PHP']);
    expect(repeated.index.byLanguage).toEqual({ java: 1, php: 1 });
    const env = await summaryOf(['--out', join(tmp, 'env.db')], { MCP_INDEX_LANGUAGES: 'php' });
    expect(env.index.byLanguage).toEqual({ php: 1 });
    expect(env.run.languagesOff).toEqual({ go: 2, java: 1, python: 1 });
  });

  it('the config file key; the people summary says what was left out', async () => {
    const config = join(tmp, 'only-java.json');
    writeFileSync(config, JSON.stringify({ languages: ['java'] }));
    const r = await runCli([repo, '--out', join(tmp, 'config.db'), '--config', config, '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/files: {4}1 \(java 1\)/);
    expect(lines(r.stderr)).toContain('  off:      not indexed, language turned off: go 2, php 1, python 1');
  });

  it('all languages by default: nothing is off, and no "off" line', async () => {
    const s = await summaryOf(['--out', join(tmp, 'all.db')]);
    expect(s.index.byLanguage).toEqual({ go: 2, java: 1, php: 1, python: 1 });
    expect(s.run.languagesOff).toEqual({});
    const r = await runCli([repo, '--out', join(tmp, 'all.db'), '--full', '--progress', 'none']);
    expect(r.stderr).not.toContain('off:');
  });

  it('turning a language off on a later run removes its files from the index', async () => {
    const out = join(tmp, 'incremental.db');
    expect((await summaryOf(['--out', out])).index.files).toBe(5);
    const s = await summaryOf(['--out', out, '--languages', 'python,java,php']);
    expect(s.index.byLanguage).toEqual({ java: 1, php: 1, python: 1 });
    expect(s.run.filesRemoved).toBe(2);
  });

  for (const [what, args, mention] of [
    ['an unknown name', ['--languages', 'go,golang'], 'unknown language "golang"'],
    ['an empty list', ['--languages', ','], 'names no language'],
  ] as const) {
    it(`${what} on the command line: one line naming it and the known ones, exit 2`, async () => {
      const r = await runCli([repo, '--out', join(tmp, 'bad.db'), ...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toContain(mention);
      expect(r.stderr).toContain('known: python, javascript, typescript, tsx, rust, go, java');
    });
  }

  it('an unknown name in the config file: one line naming the file, exit 2', async () => {
    const config = join(tmp, 'bad.json');
    writeFileSync(config, JSON.stringify({ languages: ['go', 'kotlin'] }));
    const r = await runCli([repo, '--out', join(tmp, 'bad.db'), '--config', config]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`mcp-index: ${config}: "languages" has unknown language "kotlin" (known: python, javascript, typescript, tsx, rust, go, java, c, cpp, csharp, ruby, php)`]);
  });
});
