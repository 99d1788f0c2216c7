import { appendFileSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContentIndex, hasContentIndex } from '../../src/index-store/content.js';
import { openIndex } from '../../src/index-store/reader.js';
import { regexLiterals, searchContent, trigramQuery, type ContentHit, type ContentOptions } from '../../src/query/grep.js';
import { copyFixture, indexRepo } from './helpers.js';
import { QueryError } from '../../src/errors.js';

let tmp: string;
let repo: string;
let plain: string; // index without a content index
let withContent: string;

beforeAll(async () => {
  ({ tmp, repo } = copyFixture('mcp-index-content-'));
  plain = join(tmp, 'plain.db');
  withContent = join(tmp, 'content.db');
  indexRepo(repo, plain);
  copyFileSync(plain, withContent);
  const w = new Database(withContent);
  try {
    const stats = await buildContentIndex(w, repo);
    expect(stats).toMatchObject({ indexed: 11, unchanged: 0, changed: 0, removed: 0 });
    expect(stats.lines).toBeGreaterThan(150);
  } finally {
    w.close();
  }
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sorted = (hits: ContentHit[]) => [...hits].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line)).map((h) => `${h.path}:${h.line}:${h.col}: ${h.text}`);

describe('regexLiterals', () => {
  it('extracts only literals every match must contain', () => {
    expect(regexLiterals('foo')).toEqual(['foo']);
    expect(regexLiterals('foo.*bar')).toEqual(['foo', 'bar']);
    expect(regexLiterals('colou?r')).toEqual(['colo', 'r']);
    expect(regexLiterals('ab*c')).toEqual(['a', 'c']);
    expect(regexLiterals('ab+c')).toEqual(['ab', 'c']);
    expect(regexLiterals('ab{2}c')).toEqual(['ab', 'c']);
    expect(regexLiterals('x{0,2}yz')).toEqual(['yz']);
    expect(regexLiterals('a|b')).toEqual([]);
    expect(regexLiterals('(abc|abd)def')).toEqual(['def']);
    expect(regexLiterals('(abc)?def')).toEqual(['def']);
    expect(regexLiterals('[abc]def\\d+ghi')).toEqual(['def', 'ghi']);
    expect(regexLiterals('\\x41bcd')).toEqual(['bcd']);
    expect(regexLiterals('\\u{1F600}xyz')).toEqual(['xyz']);
    expect(regexLiterals('json\\.dump\\(')).toEqual(['json.dump(']);
    expect(regexLiterals('^\\s*return\\b')).toEqual(['return']);
  });
});

describe('trigramQuery', () => {
  it('requires every trigram of every literal, each quoted', () => {
    expect(trigramQuery(['__all__'])).toBe('"__a" AND "_al" AND "all" AND "ll_" AND "l__"');
    expect(trigramQuery(['a"bc', 'xy'])).toBe(String.raw`"a""b" AND """bc"`);
    expect(trigramQuery(['ab', ''])).toBeNull();
    expect(trigramQuery(['abcdefghijklmnopqrstuvwxyz'])!.split(' AND ')).toHaveLength(16);
  });
});

describe('searchContent', () => {
  it('finds lines through the content index, with path, line and column', async () => {
    const db = openIndex(withContent);
    try {
      expect(hasContentIndex(db)).toBe(true);
      const r = await searchContent(db, 'query-marker');
      expect(r.source).toBe('index');
      expect(r.results).toEqual([{ path: 'app/store.py', line: 32, col: 10, text: '# query-marker: persisted with json.dump' }]);
      const re = await searchContent(db, 'fn \\w+\\(&self', { regex: true });
      expect(re.results.map((h) => `${h.path}:${h.line}`)).toEqual(['crates/kv/src/lib.rs:16']);
    } finally {
      db.close();
    }
  });

  it('returns the same lines from the content index as from the files on disk', async () => {
    const a = openIndex(withContent);
    const b = openIndex(plain);
    try {
      expect(hasContentIndex(b)).toBe(false);
      const cases: [string, ContentOptions][] = [
        ['Config', {}],
        ['config', {}],
        ['CONFIG', { ignoreCase: true }],
        ['config', { ignoreCase: false }],
        ['self', { path: 'app/**' }],
        ['self', { lang: ['rust'] }],
        ['ab', {}], // shorter than a trigram: full scan
        ['=', {}],
        ['def \\w+\\(self', { regex: true }],
        ['^\\s*return\\b', { regex: true }],
        ['(get|put)\\(', { regex: true }],
        ['user', { regex: true, ignoreCase: true }],
        ['store.put("greeting"', {}],
        ['%_', {}], // LIKE wildcards in the text are plain characters
        ['__init__', {}],
        ['self._', {}],
        ['"w"', {}],
      ];
      for (const [text, o] of cases) {
        const fromIndex = await searchContent(a, text, { ...o, limit: 2000, root: repo });
        const fromDisk = await searchContent(b, text, { ...o, limit: 2000, root: repo });
        expect(fromDisk.source).toBe('disk');
        expect(sorted(fromIndex.results), `${text} ${JSON.stringify(o)}`).toEqual(sorted(fromDisk.results));
        expect(fromIndex.total).toBe(fromDisk.total);
      }
      expect((await searchContent(a, 'self', { limit: 2000 })).total).toBeGreaterThan(10);
      expect((await searchContent(a, '%_', {})).total).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('uses smart case unless told otherwise', async () => {
    const db = openIndex(withContent);
    try {
      const lower = await searchContent(db, 'config', { limit: 500 });
      const upper = await searchContent(db, 'Config', { limit: 500 });
      expect(lower.ignoreCase).toBe(true);
      expect(upper.ignoreCase).toBe(false);
      expect(lower.total).toBeGreaterThan(upper.total);
      expect(upper.results.every((h) => h.text.includes('Config'))).toBe(true);
    } finally {
      db.close();
    }
  });

  it('cuts to the limit and counts the rest', async () => {
    const db = openIndex(withContent);
    try {
      const all = await searchContent(db, 'e', { limit: 2000 });
      const some = await searchContent(db, 'e', { limit: 5 });
      expect(some.results).toEqual(all.results.slice(0, 5));
      expect(some.total).toBe(all.total);
      expect(some.more).toBe(all.total - 5);
    } finally {
      db.close();
    }
  });

  it('stops at its time budget and says so', async () => {
    const db = openIndex(withContent);
    try {
      const r = await searchContent(db, '.', { regex: true, timeBudgetMs: 0 });
      expect(r.timedOut).toBe(true);
      expect(r.moreIsLowerBound).toBe(true);
      expect((await searchContent(db, '.', { regex: true })).timedOut).toBe(false);
    } finally {
      db.close();
    }
  });

  it('rejects bad patterns', async () => {
    const db = openIndex(withContent);
    try {
      await expect(searchContent(db, '(', { regex: true })).rejects.toThrow(QueryError);
      await expect(searchContent(db, '')).rejects.toThrow(QueryError);
      await expect(searchContent(db, 'x'.repeat(100_000))).rejects.toThrow(/too long \(100000 characters; at most 1000\)/);
      await expect(searchContent(db, 'x', { context: 21 })).rejects.toThrow(/context must be 0 to 20/);
    } finally {
      db.close();
    }
  });

  it('reads every other text file git lists (docs, templates, configs), not only the indexed ones', async () => {
    const db = openIndex(withContent);
    try {
      const r = await searchContent(db, 'fetchUser', { root: repo });
      expect(r.results.map((h) => `${h.path}:${h.line}`)).toEqual(['web/client.ts:20', 'web/main.ts:6', 'web/templates/user.html:3']);
      expect(r.otherFiles).toBe(3); // README.md, crates/kv/Cargo.toml, web/templates/user.html
      expect((await searchContent(db, 'edition', { root: repo })).results.map((h) => h.path)).toEqual(['crates/kv/Cargo.toml']);
      // a language filter keeps to the indexed files; a path glob applies to the others too
      expect((await searchContent(db, 'fetchUser', { root: repo, lang: ['typescript'] })).results.map((h) => h.path)).toEqual(['web/client.ts', 'web/main.ts']);
      expect((await searchContent(db, 'fetchUser', { root: repo, path: '**/*.html' })).results.map((h) => h.path)).toEqual(['web/templates/user.html']);
      // without the root the other files cannot be read
      expect((await searchContent(db, 'fetchUser')).results.map((h) => h.path)).toEqual(['web/client.ts', 'web/main.ts']);
    } finally {
      db.close();
    }
  });

  it('adds context lines around each match, the same from the content index and from disk', async () => {
    const a = openIndex(withContent);
    const b = openIndex(plain);
    try {
      const html = await searchContent(a, 'ApiClient.fetchUser', { root: repo, context: 1 });
      expect(html.results).toEqual([
        { path: 'web/templates/user.html', line: 3, col: 17, text: '<!-- filled by ApiClient.fetchUser on load -->', full: '  <!-- filled by ApiClient.fetchUser on load -->', before: ['  <h1>{{ user.name }}</h1>'], after: ['  <p>{{ user.id }}</p>'] },
      ]);
      // the first and last lines of a file have less context; the chunk boundary (line 32/33) is crossed
      const first = await searchContent(a, 'Storage for the app', { root: repo, context: 2 });
      expect(first.results[0]).toMatchObject({ line: 1, before: [], after: ['import json', 'import os'] });
      const across = await searchContent(a, 'with open(self.path', { root: repo, context: 2 });
      expect(across.results[0]).toMatchObject({ path: 'app/store.py', line: 33, before: ['    def save(self) -> None:', '        # query-marker: persisted with json.dump'] });
      expect(across.results[0].after).toEqual(['            json.dump({k: e.value for k, e in self.items.items()}, fh)', '']);
      for (const text of ['def ', 'Config', 'load(']) {
        const x = await searchContent(a, text, { root: repo, context: 3, limit: 500 });
        const y = await searchContent(b, text, { root: repo, context: 3, limit: 500 });
        expect(x.results, text).toEqual(y.results);
      }
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('buildContentIndex', () => {
  it('leaves out files whose content no longer matches files.hash', async () => {
    const { tmp: t, repo: r } = copyFixture('mcp-index-content2-');
    try {
      const o = join(t, 'index.db');
      indexRepo(r, o);
      appendFileSync(join(r, 'app/cli.py'), '\n# edited after the run\n');
      const w = new Database(o);
      const stats = await buildContentIndex(w, r);
      expect(stats).toMatchObject({ indexed: 10, changed: 1 });
      w.close();
      const db = openIndex(o);
      expect((await searchContent(db, 'def main')).total).toBe(0);
      expect((await searchContent(db, 'def open_store')).total).toBe(1);
      db.close();
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('follows incremental runs: unchanged files are kept, changed ones re-read, removed ones dropped', async () => {
    const { tmp: t, repo: r } = copyFixture('mcp-index-content3-');
    try {
      const o = join(t, 'index.db');
      const build = async () => {
        const w = new Database(o);
        try {
          return await buildContentIndex(w, r);
        } finally {
          w.close();
        }
      };
      indexRepo(r, o);
      expect(await build()).toMatchObject({ indexed: 11, removed: 0 });
      expect(await build()).toMatchObject({ indexed: 0, unchanged: 11, removed: 0 });

      rmSync(join(r, 'web/client.ts'));
      writeFileSync(join(r, 'app/store.py'), 'def replaced_store():\n    return "replacement-marker"\n');
      // Incremental: the run starts from the previous index, finds its content tables and keeps them current
      // itself (one file re-read, two rows sets dropped), so a build right after has nothing left to do.
      indexRepo(r, o);
      expect(await build()).toMatchObject({ indexed: 0, unchanged: 10, removed: 0 });

      const db = openIndex(o);
      try {
        expect((await searchContent(db, 'class ApiClient')).total).toBe(0);
        expect((await searchContent(db, 'query-marker')).total).toBe(0);
        expect((await searchContent(db, 'replacement-marker')).results.map((h) => `${h.path}:${h.line}`)).toEqual(['app/store.py:2']);
        // no rows left behind for files that are gone
        const orphans = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM content_fts WHERE (rowid >> 21) NOT IN (SELECT file_id FROM content_files)').get()!.n;
        expect(orphans).toBe(0);
        const files = db.prepare<[], { path: string }>('SELECT path FROM content_files ORDER BY path').all().map((r) => r.path);
        expect(files).toEqual([
          'app/__init__.py', 'app/cli.py', 'app/loose.py', 'app/plugins.py', 'app/runner.py', 'app/settings.py', 'app/store.py',
          'crates/kv/src/lib.rs', 'tests/test_settings.py', 'web/main.ts',
        ]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('rebuilds only the named paths when given', async () => {
    const { tmp: t, repo: r } = copyFixture('mcp-index-content4-');
    try {
      const o = join(t, 'index.db');
      indexRepo(r, o);
      const w = new Database(o);
      try {
        expect(await buildContentIndex(w, r, ['app/cli.py'])).toMatchObject({ indexed: 1 });
        expect(await buildContentIndex(w, r)).toMatchObject({ indexed: 10, unchanged: 1 });
      } finally {
        w.close();
      }
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});
