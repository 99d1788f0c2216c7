import { appendFileSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContentIndex, hasContentIndex } from '../../src/index-store/content.js';
import { openIndex } from '../../src/index-store/reader.js';
import { QueryError } from '../../src/query/common.js';
import { regexLiterals, searchContent, trigramQuery, type ContentHit, type ContentOptions } from '../../src/query/grep.js';
import { copyFixture, indexRepo } from './helpers.js';

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
    expect(stats).toMatchObject({ indexed: 5, unchanged: 0, changed: 0, removed: 0 });
    expect(stats.lines).toBeGreaterThan(80);
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
  it('finds lines through the content index, with path, line and column', () => {
    const db = openIndex(withContent);
    try {
      expect(hasContentIndex(db)).toBe(true);
      const r = searchContent(db, 'query-marker');
      expect(r.source).toBe('index');
      expect(r.results).toEqual([{ path: 'app/store.py', line: 32, col: 10, text: '# query-marker: persisted with json.dump' }]);
      const re = searchContent(db, 'fn \\w+\\(&self', { regex: true });
      expect(re.results.map((h) => `${h.path}:${h.line}`)).toEqual(['crates/kv/src/lib.rs:16']);
    } finally {
      db.close();
    }
  });

  it('returns the same lines from the content index as from the files on disk', () => {
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
        const fromIndex = searchContent(a, text, { ...o, limit: 2000 });
        const fromDisk = searchContent(b, text, { ...o, limit: 2000, root: repo });
        expect(fromDisk.source).toBe('disk');
        expect(sorted(fromIndex.results), `${text} ${JSON.stringify(o)}`).toEqual(sorted(fromDisk.results));
        expect(fromIndex.total).toBe(fromDisk.total);
      }
      expect(searchContent(a, 'self', { limit: 2000 }).total).toBeGreaterThan(10);
      expect(searchContent(a, '%_', {}).total).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('uses smart case unless told otherwise', () => {
    const db = openIndex(withContent);
    try {
      const lower = searchContent(db, 'config', { limit: 500 });
      const upper = searchContent(db, 'Config', { limit: 500 });
      expect(lower.ignoreCase).toBe(true);
      expect(upper.ignoreCase).toBe(false);
      expect(lower.total).toBeGreaterThan(upper.total);
      expect(upper.results.every((h) => h.text.includes('Config'))).toBe(true);
    } finally {
      db.close();
    }
  });

  it('cuts to the limit and counts the rest', () => {
    const db = openIndex(withContent);
    try {
      const all = searchContent(db, 'e', { limit: 2000 });
      const some = searchContent(db, 'e', { limit: 5 });
      expect(some.results).toEqual(all.results.slice(0, 5));
      expect(some.total).toBe(all.total);
      expect(some.more).toBe(all.total - 5);
    } finally {
      db.close();
    }
  });

  it('stops at its time budget and says so', () => {
    const db = openIndex(withContent);
    try {
      const r = searchContent(db, '.', { regex: true, timeBudgetMs: 0 });
      expect(r.timedOut).toBe(true);
      expect(r.moreIsLowerBound).toBe(true);
      expect(searchContent(db, '.', { regex: true }).timedOut).toBe(false);
    } finally {
      db.close();
    }
  });

  it('rejects bad patterns', () => {
    const db = openIndex(withContent);
    try {
      expect(() => searchContent(db, '(', { regex: true })).toThrow(QueryError);
      expect(() => searchContent(db, '')).toThrow(QueryError);
    } finally {
      db.close();
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
      expect(stats).toMatchObject({ indexed: 4, changed: 1 });
      w.close();
      const db = openIndex(o);
      expect(searchContent(db, 'def main').total).toBe(0);
      expect(searchContent(db, 'def open_store').total).toBe(1);
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
      expect(await build()).toMatchObject({ indexed: 5, removed: 0 });
      expect(await build()).toMatchObject({ indexed: 0, unchanged: 5, removed: 0 });

      rmSync(join(r, 'web/client.ts'));
      writeFileSync(join(r, 'app/store.py'), 'def replaced_store():\n    return "replacement-marker"\n');
      // Incremental: the run starts from the previous index, finds its content tables and keeps them current
      // itself (one file re-read, two rows sets dropped), so a build right after has nothing left to do.
      indexRepo(r, o);
      expect(await build()).toMatchObject({ indexed: 0, unchanged: 4, removed: 0 });

      const db = openIndex(o);
      try {
        expect(searchContent(db, 'ApiClient').total).toBe(0);
        expect(searchContent(db, 'query-marker').total).toBe(0);
        expect(searchContent(db, 'replacement-marker').results.map((h) => `${h.path}:${h.line}`)).toEqual(['app/store.py:2']);
        // no rows left behind for files that are gone
        const orphans = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM content_fts WHERE (rowid >> 21) NOT IN (SELECT file_id FROM content_files)').get()!.n;
        expect(orphans).toBe(0);
        const files = db.prepare<[], { path: string }>('SELECT path FROM content_files ORDER BY path').all().map((r) => r.path);
        expect(files).toEqual(['app/__init__.py', 'app/cli.py', 'app/store.py', 'crates/kv/src/lib.rs']);
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
        expect(await buildContentIndex(w, r)).toMatchObject({ indexed: 4, unchanged: 1 });
      } finally {
        w.close();
      }
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});
