import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultIndexPath } from '../../src/index-store/location.js';
import { corruptIndexError, damagedProblem, integrityProblem, isCorruption, openIndex, readMetaAll } from '../../src/index-store/reader.js';
import { findSymbols } from '../../src/query/find.js';
import { IndexHandle, locateIndex } from '../../src/query/locate.js';
import { fileOutline, type OutlineNode } from '../../src/query/outline.js';
import { findRefs } from '../../src/query/refs.js';
import { formatSource } from '../../src/query/format.js';
import { pathRank } from '../../src/query/rank.js';
import { searchSymbols, toFtsQuery } from '../../src/query/search.js';
import { fullSignature, symbolSource } from '../../src/query/source.js';
import { indexStatus } from '../../src/query/status.js';
import { BIN, copyFixture, damageSymbols, indexRepo } from './helpers.js';
import { IndexCorruptError, QueryError } from '../../src/errors.js';

let tmp: string;
let repo: string;
let out: string;
let db: Database.Database;

beforeAll(() => {
  ({ tmp, repo } = copyFixture('mcp-index-query-'));
  out = join(tmp, 'index.db');
  indexRepo(repo, out);
  db = openIndex(out);
});

afterAll(() => {
  db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Local variables: the extractors may or may not index them; these tests are about the ranking of the rest. */
const noLocals = <T extends { kind: string; scope: string | null }>(hits: T[]) => hits.filter((h) => !((h.kind === 'variable' || h.kind === 'constant') && h.scope !== null));

const brief = (hits: { qualified: string; kind: string; path: string; line: number }[]) => hits.map((h) => `${h.kind} ${h.qualified} ${h.path}:${h.line}`);

describe('findSymbols', () => {
  it('ranks exact before prefix before fuzzy, definitions before impl blocks', () => {
    const r = findSymbols(db, 'Config');
    expect(brief(r.results)).toEqual(['struct Config crates/kv/src/lib.rs:6', 'impl Config crates/kv/src/lib.rs:10', 'function load_config crates/kv/src/lib.rs:22']);
    expect(r.results.map((h) => h.match)).toEqual(['exact', 'exact', 'fuzzy']);
    expect(r.counts).toEqual({ exact: 2, prefix: 0, fuzzy: 1 });

    const s = findSymbols(db, 'store');
    expect(noLocals(s.results).map((h) => [h.qualified, h.match])).toEqual([
      ['Store', 'exact'],
      ['open_store', 'fuzzy'],
    ]);
    expect(findSymbols(db, 'open').results.map((h) => [h.qualified, h.match])).toEqual([['open_store', 'prefix']]);
  });

  it('puts definitions before variables, even when the variable has the exact case', () => {
    expect(brief(findSymbols(db, 'apiclient').results)).toEqual(['class ApiClient web/client.ts:16', 'constant apiClient web/client.ts:26']);
    expect(brief(findSymbols(db, 'apiClient').results)).toEqual(['class ApiClient web/client.ts:16', 'constant apiClient web/client.ts:26']);
  });

  it('breaks ties by shorter qualified name, then path', () => {
    expect(brief(findSymbols(db, 'get', { match: 'exact' }).results)).toEqual(['method Store.get app/store.py:21', 'method Config::get crates/kv/src/lib.rs:16']);
    expect(brief(noLocals(findSymbols(db, 'parse').results))).toEqual(['function parseArgs web/client.ts:7', 'function parse_args app/cli.py:7']);
  });

  it('matches fuzzily by characters in order, case-insensitively', () => {
    const r = findSymbols(db, 'LdCfg');
    expect(brief(r.results)).toEqual(['function load_config crates/kv/src/lib.rs:22']);
    expect(r.results[0].match).toBe('fuzzy');
    expect(findSymbols(db, 'ldcfg', { match: 'prefix' }).results).toEqual([]);
    expect(findSymbols(db, 'loa', { match: 'exact' }).results).toEqual([]);
    expect(findSymbols(db, 'loa', { match: 'prefix' }).results.map((h) => h.qualified)).toEqual(['load', 'load', 'load_config', 'Settings.load']);
  });

  it('filters by kind, language and path glob', () => {
    const names = (o: Parameters<typeof findSymbols>[2]) => findSymbols(db, 'get', { match: 'exact', ...o }).results.map((h) => h.qualified);
    expect(names({ lang: ['rust'] })).toEqual(['Config::get']);
    expect(names({ lang: ['py'] })).toEqual(['Store.get']);
    expect(names({ path: 'app/**' })).toEqual(['Store.get']);
    expect(names({ path: '*.rs' })).toEqual(['Config::get']);
    expect(names({ path: 'crates' })).toEqual(['Config::get']);
    expect(names({ path: 'nothing/**' })).toEqual([]);
    expect(names({ kind: ['function'] })).toEqual([]);
    expect(names({ kind: ['method'] })).toEqual(['Store.get', 'Config::get']);
    expect(findSymbols(db, 'config', { kind: ['function,struct'] }).results.map((h) => h.kind)).toEqual(['struct', 'function']);
  });

  it('cuts to the limit and counts the rest', () => {
    const all = findSymbols(db, 'e', { limit: 1000 });
    expect(all.more).toBe(0);
    expect(all.total).toBe(all.results.length);
    const cut = findSymbols(db, 'e', { limit: 3 });
    expect(cut.results).toHaveLength(3);
    expect(cut.results).toEqual(all.results.slice(0, 3));
    expect(cut.total).toBe(all.total);
    expect(cut.more).toBe(all.total - 3);
  });

  it('rejects bad arguments with QueryError', () => {
    expect(() => findSymbols(db, '  ')).toThrow(QueryError);
    expect(() => findSymbols(db, 'x', { kind: ['gizmo'] })).toThrow(/unknown kind "gizmo"/);
    expect(() => findSymbols(db, 'x', { lang: ['cobol'] })).toThrow(/unknown language/);
    expect(() => findSymbols(db, 'x', { limit: 0 })).toThrow(/limit/);
    expect(() => findSymbols(db, 'x', { match: 'regex' as never })).toThrow(/match mode/);
  });
});

describe('searchSymbols', () => {
  it('finds symbols by words of their docs and signatures, best first', () => {
    const r = searchSymbols(db, 'parse arguments');
    expect(brief(r.results)[0]).toBe('function parse_args app/cli.py:7');
    expect(searchSymbols(db, 'fetch user').results.map((h) => h.qualified)).toContain('ApiClient.fetchUser');
    const cfg = searchSymbols(db, 'Config').results.map((h) => h.qualified);
    expect(cfg.slice(0, 2).sort()).toEqual(['Config', 'Config']);
    expect(cfg).toContain('load_config');
  });

  it('matches parts of identifiers and prefixes', () => {
    expect(searchSymbols(db, 'fetchUs').results.map((h) => h.qualified)).toEqual(['ApiClient.fetchUser']);
    expect(searchSymbols(db, 'user fetch').results.map((h) => h.qualified)).toContain('ApiClient.fetchUser');
    expect(toFtsQuery('getUser name')).toBe('("getUser"* OR words : "get user"*) AND "name"*');
  });

  it('never lets punctuation or FTS syntax in the text break the query', () => {
    for (const text of ['"', 'a AND', 'NEAR(', 'parse"args', 'col:', '-x', '^', 'OR', "'", '(((', 'x*', 'a:b OR c', '{name}: x']) {
      try {
        const r = searchSymbols(db, text);
        expect(Array.isArray(r.results)).toBe(true);
      } catch (e) {
        expect(e, text).toBeInstanceOf(QueryError);
        expect((e as Error).message).toMatch(/no words/);
      }
    }
    expect(searchSymbols(db, 'parse(args)').results.map((h) => h.qualified)).toContain('parse_args');
  });

  it('filters and limits', () => {
    expect(searchSymbols(db, 'config', { kind: ['function'] }).results.map((h) => h.qualified)).toEqual(['load_config']);
    expect(searchSymbols(db, 'get', { lang: ['python'] }).results.every((h) => h.language === 'python')).toBe(true);
    const r = searchSymbols(db, 'config', { limit: 1 });
    expect(r.results).toHaveLength(1);
    expect(r.more).toBe(r.total - 1);
    expect(r.total).toBeGreaterThan(2);
  });
});

describe('findRefs', () => {
  it('lists calls and imports grouped by file', () => {
    const r = findRefs(db, 'open_store');
    expect(r.byKind).toEqual({ call: 2, import: 2 });
    expect(r.files.map((f) => f.path)).toEqual(['app/cli.py', 'app/settings.py']);
    expect(r.files[0].refs.map((x) => [x.line, x.kind])).toEqual([
      [4, 'import'],
      [16, 'call'],
    ]);
    expect(r.files[0].refs[1].scope).toBe('main');
    expect(findRefs(db, 'open_store', { kind: ['import'] }).results.map((x) => `${x.path}:${x.line}`)).toEqual(['app/cli.py:4', 'app/settings.py:2']);
  });

  it('narrows a qualified name by its qualifier', () => {
    expect(findRefs(db, 'Config::new').results.map((x) => `${x.path}:${x.line} ${x.context}`)).toEqual(['crates/kv/src/lib.rs:23 Config::new']);
    expect(findRefs(db, 'os.makedirs').results.map((x) => `${x.path}:${x.line}`)).toEqual(['app/store.py:39']);
    expect(findRefs(db, 'shutil.makedirs').results).toEqual([]);
  });

  it('counts beyond the limit', () => {
    const all = findRefs(db, 'get');
    expect(all.total).toBeGreaterThan(1);
    const one = findRefs(db, 'get', { limit: 1 });
    expect(one.results).toEqual(all.results.slice(0, 1));
    expect(one.more).toBe(all.total - 1);
  });
});

describe('fileOutline', () => {
  const isLocal = (n: OutlineNode) => (n.kind === 'variable' || n.kind === 'constant') && n.qualified !== n.name;
  const shape = (nodes: OutlineNode[]): unknown =>
    nodes.filter((n) => !isLocal(n)).map((n) => (n.children.some((c) => !isLocal(c)) ? { [`${n.kind} ${n.name}`]: shape(n.children) } : `${n.kind} ${n.name}`));

  it('nests symbols by scope in source order', () => {
    const r = fileOutline(db, 'app/store.py', repo);
    expect(r.count).toBeGreaterThanOrEqual(9);
    expect(shape(r.symbols)).toEqual([
      'constant MAX_KEYS',
      {
        'class Store': [
          { 'class Entry': ['method __init__', 'field value'] },
          'method __init__',
          'field path',
          'field items',
          'method get',
          'method put',
          'method save',
        ],
      },
      'function open_store',
    ]);
    const rs = fileOutline(db, 'crates/kv/src/lib.rs', repo);
    expect(shape(rs.symbols)).toEqual([{ 'struct Config': ['field values'] }, { 'impl Config': ['method new', 'method get'] }, 'function load_config']);
    expect(rs.symbols[1].children[0]).toMatchObject({ line: 12, endLine: 14, signature: 'pub fn new() -> Config', doc: 'An empty configuration.' });
  });

  it('accepts repo-relative, absolute, cwd-relative and unique-suffix paths', () => {
    expect(fileOutline(db, join(repo, 'app/cli.py'), repo).path).toBe('app/cli.py');
    expect(fileOutline(db, 'cli.py', repo, join(repo, 'app')).path).toBe('app/cli.py');
    expect(fileOutline(db, 'lib.rs', repo).path).toBe('crates/kv/src/lib.rs');
    expect(() => fileOutline(db, 'nope.py', repo)).toThrow(/not in the index/);
  });
});

describe('indexStatus', () => {
  it('reports contents, errors and stale files', () => {
    const meta = readMetaAll(db);
    const s = indexStatus(db, out, meta, repo);
    expect(s).toMatchObject({ files: 11, root: repo, languages: { python: 8, rust: 1, typescript: 2 }, errors: { files: 0, list: [] } });
    expect(s.stale).toMatchObject({ checked: 11, changed: 0, missing: 0 });
    expect(s.lastRun).toBe(meta.last_run);
    expect(s.symbols).toBe(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM symbols').get()!.n);
    expect(indexStatus(db, out, meta, null).stale).toBeNull();
  });

  it('counts changed and missing files against the disk', () => {
    const { tmp: t2, repo: r2 } = copyFixture('mcp-index-status-');
    try {
      const o2 = join(t2, 'index.db');
      writeFileSync(join(r2, 'app/broken.py'), 'def broken(:\n    pass\n');
      indexRepo(r2, o2);
      appendFileSync(join(r2, 'app/cli.py'), '\n# edited\n');
      rmSync(join(r2, 'web/client.ts'));
      const d2 = openIndex(o2);
      try {
        const s = indexStatus(d2, o2, readMetaAll(d2), r2);
        expect(s.stale).toMatchObject({ checked: 12, changed: 1, missing: 1, changedPaths: ['app/cli.py'], missingPaths: ['web/client.ts'] });
        expect(s.errors.files).toBe(1);
        expect(s.errors.byCode).toEqual({ syntax: 1 });
        expect(s.errors.list).toEqual([expect.objectContaining({ path: 'app/broken.py', status: 'partial', code: 'syntax' })]);
      } finally {
        d2.close();
      }
    } finally {
      rmSync(t2, { recursive: true, force: true });
    }
  });
});

describe('locating and reopening indexes', () => {
  it('finds the default index of the repository or the nearest parent that has one', () => {
    const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') };
    const p = defaultIndexPath(repo, env);
    mkdirSync(join(p, '..'), { recursive: true });
    copyFileSync(out, p);
    expect(locateIndex({ repo, env })).toEqual({ indexPath: p, root: repo });
    expect(locateIndex({ cwd: join(repo, 'crates/kv/src'), env })).toEqual({ indexPath: p, root: repo });
    expect(locateIndex({ index: out, env })).toEqual({ indexPath: out, root: null });
    expect(() => locateIndex({ cwd: tmp, env })).toThrow(/no index for/);
  });

  it('reopens when a later run renames a new index over the file', () => {
    const { tmp: t3, repo: r3 } = copyFixture('mcp-index-handle-');
    try {
      const o3 = join(t3, 'index.db');
      const h = new IndexHandle(o3);
      expect(h.get()).toBeNull();
      indexRepo(r3, o3);
      const first = h.get()!;
      expect(first).not.toBeNull();
      expect(h.get()!.db).toBe(first.db);
      expect(findSymbols(first.db, 'later_added', { match: 'exact' }).results).toEqual([]);
      appendFileSync(join(r3, 'app/cli.py'), '\n\ndef later_added():\n    pass\n');
      indexRepo(r3, o3);
      const second = h.get()!;
      expect(second.db).not.toBe(first.db);
      expect(findSymbols(second.db, 'later_added', { match: 'exact' }).results.map((x) => x.path)).toEqual(['app/cli.py']);
      writeFileSync(o3, 'not a database');
      expect(h.get()).toBeNull();
      expect(h.lastError).toMatch(/not an mcp-index index/);
      h.close();
    } finally {
      rmSync(t3, { recursive: true, force: true });
    }
  });
});

describe('names as agents type them', () => {
  const names = (q: string, o: Parameters<typeof findSymbols>[2] = {}) => findSymbols(db, q, { match: 'exact', ...o }).results.map((h) => `${h.qualified} ${h.path}:${h.line}`);

  it('resolves Class.method, Class::method, Class/method, mod::Type::fn and module paths', () => {
    expect(names('Store.get')).toEqual(['Store.get app/store.py:21']);
    for (const q of ['Config::get', 'Config.get', 'Config/get', 'Config#get', 'kv::Config::get', 'crate::Config::get', 'Config<T>::get', 'Config::get()']) {
      expect(names(q), q).toEqual(['Config::get crates/kv/src/lib.rs:16']);
    }
    expect(names('Store.Entry.__init__')).toEqual(['Store.Entry.__init__ app/store.py:14']);
    expect(names('Entry.__init__')).toEqual(['Store.Entry.__init__ app/store.py:14']); // the end of the scope
    expect(names('app.store.open_store')).toEqual(['open_store app/store.py:37']); // module, then name
    expect(names('store.Store.put')).toEqual(['Store.put app/store.py:26']); // module, then scope
    expect(names('plugins.load')).toEqual(['load app/plugins.py:4']);
  });

  it('anchors a leading separator to the whole scope, and keeps a wrong qualifier from matching', () => {
    expect(names('/Store/get')).toEqual(['Store.get app/store.py:21']);
    expect(names('/Entry/__init__')).toEqual([]);
    expect(names('Store::new')).toEqual([]);
    expect(names('Config.put')).toEqual([]);
  });

  it('applies prefix and fuzzy tiers to the last part, marked as such', () => {
    const r = findSymbols(db, 'Store.sav');
    expect(r.results.map((h) => [h.qualified, h.match])).toEqual([['Store.save', 'prefix']]);
    const f = findSymbols(db, 'Settings.chk');
    expect(f.results.map((h) => [h.qualified, h.match])).toEqual([['Settings.check', 'fuzzy']]);
    expect(f.qualifier).toEqual(['Settings']);
  });

  it("shows the name's line and the end line, with kind and path filters", () => {
    const [hit] = findSymbols(db, 'Settings.load').results;
    expect(hit).toMatchObject({ line: 30, startLine: 30, endLine: 32, kind: 'method' });
    expect(names('load', { path: 'app/plugins.py' })).toEqual(['load app/plugins.py:4']);
    expect(names('load', { kind: ['method'] })).toEqual(['Settings.load app/settings.py:30']);
  });

  it('rejects a name longer than the limit at once', () => {
    expect(() => findSymbols(db, 'x'.repeat(100_000))).toThrow(/name is too long \(100000 characters; at most 500\)/);
  });
});

describe('ranking by where the code lives', () => {
  it('classifies paths as source, examples, tests and vendored code', () => {
    expect(['app/store.py', 'src/unittest/case.py', 'lib/doctest.py', 'Lib/test/test_json.py', 'tests/x.py', 'a/test_b.py', 'a/b_test.py', 'src/x.test.ts', 'idlelib/idle_test/t.py', 'examples/a.rs', 'benches/b.rs', 'vendor/x/y.js', 'a/third_party/b.py'].map(pathRank)).toEqual([
      0, 0, 0, 2, 2, 2, 2, 2, 2, 1, 1, 3, 3,
    ]);
  });

  it('ranks source above tests in search, even when the test names every word', () => {
    const r = searchSymbols(db, 'load settings file');
    expect(r.allMatches).toBe(2);
    expect(r.results.slice(0, 2).map((h) => [h.qualified, h.matched])).toEqual([
      ['load', 'all'],
      ['test_load_settings_file', 'all'],
    ]);
  });

  it('puts a symbol named exactly the query words first', () => {
    expect(searchSymbols(db, 'api client').results[0].qualified).toBe('ApiClient');
    expect(searchSymbols(db, 'settings').results[0]).toMatchObject({ qualified: 'Settings', kind: 'class' });
  });
});

describe('search that forgives', () => {
  it('falls back to any of the words when hardly anything matches them all', () => {
    const r = searchSymbols(db, 'how are the settings loaded from a file?');
    expect(r.allMatches).toBe(0);
    expect(r.words).toEqual(['settings', 'loaded', 'file']);
    expect(r.ignored).toEqual(['how', 'are', 'the', 'from', 'a']);
    const q = r.results.map((h) => h.qualified);
    expect(q.slice(0, 3)).toEqual(['Settings', 'Settings.load', 'load']);
    expect(q.indexOf('load')).toBeLessThan(q.indexOf('test_load_settings_file'));
    expect(r.results.every((h) => h.matched === 'any')).toBe(true);
    expect(r.fts.any).toBe('("settings" OR "setting"*) OR ("loaded" OR "load"*) OR "file"');
  });

  it('dedupes words and caps their number and the length of the text', () => {
    expect(toFtsQuery('name Name NAME get name')).toBe('"name"* AND "get"*');
    const many = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const r = searchSymbols(db, many);
    expect(r.words).toHaveLength(16);
    expect(r.ignored).toHaveLength(24);
    expect(() => searchSymbols(db, 'parse '.repeat(20_000))).toThrow(/search text is too long \(120000 characters; at most 1000\)/);
  });
});

describe('symbolSource', () => {
  it('returns the source of a method by qualified name, with its signature and line numbers', () => {
    const r = symbolSource(db, { name: 'Store.put' }, repo);
    expect(r).toMatchObject({ from: 26, to: 29, cut: false, signature: 'def put(self, key: str, value) -> None', changedOnDisk: false });
    expect(r.text.split('\n')).toEqual([
      '    def put(self, key: str, value) -> None:',
      '        if len(self.items) >= MAX_KEYS:',
      '            raise ValueError("store is full")',
      '        self.items[key] = Store.Entry(value)',
    ]);
    const text = formatSource(r);
    expect(text.split('\n').slice(0, 3)).toEqual(['method Store.put  app/store.py:26-29', 'signature: def put(self, key: str, value) -> None', '26      def put(self, key: str, value) -> None:']);
  });

  it('takes a file and a line, and cuts long definitions saying what is below the cut', () => {
    expect(symbolSource(db, { path: 'store.py', line: 23 }, repo).symbol.qualified).toBe('Store.get');
    expect(symbolSource(db, { path: 'app/store.py', line: 15 }, repo).symbol.qualified).toBe('Store.Entry.__init__');
    const cut = symbolSource(db, { name: 'Store' }, repo, { maxLines: 5 });
    expect(cut).toMatchObject({ from: 8, to: 12, cut: true });
    expect(cut.hiddenMembers.map((m) => `${m.kind} ${m.qualified}:${m.line}`)).toEqual(['method Store.__init__:17', 'field Store.path:18', 'field Store.items:19', 'method Store.get:21', 'method Store.put:26', 'method Store.save:31']);
    expect(formatSource(cut)).toContain('(cut at max_lines: lines 8-12 of 8-34)');
  });

  it('answers the best match of an ambiguous name and lists the others', () => {
    const r = symbolSource(db, { name: 'load' }, repo);
    expect(r.symbol.path).toBe('app/plugins.py');
    expect(r.others.map((h) => `${h.qualified} ${h.path}`)).toEqual(['load app/settings.py', 'Settings.load app/settings.py']);
    expect(symbolSource(db, { name: 'load', path: 'app/settings.py', kind: ['function'] }, repo).symbol.line).toBe(5);
  });

  it('says what is wrong with a bad target', () => {
    expect(() => symbolSource(db, { name: 'no_such_thing' }, repo)).toThrow(/no definition named "no_such_thing"/);
    expect(() => symbolSource(db, { name: 'Stor.get' }, repo)).toThrow(/no definition named "Stor.get"; closest: Store.get \(app\/store.py:21\)/);
    expect(() => symbolSource(db, { line: 3 }, repo)).toThrow(/needs the path/);
    expect(() => symbolSource(db, { path: 'app/store.py', line: 6 }, repo)).toThrow(/no definition encloses app\/store.py:6/);
    expect(() => symbolSource(db, { name: 'Store' }, null)).toThrow(/root is unknown/);
  });

  it('reads a whole signature back from the source when the stored one was cut', () => {
    const py = ['    def f(self, a,', '          b: int = 3,', '          c=(1, 2)) -> dict[str, int]:  # note', '        return {}'];
    expect(fullSignature(py, 1, 'python')).toBe('def f(self, a, b: int = 3, c=(1, 2)) -> dict[str, int]');
    const rs = ['pub fn g<T: Into<String>>(', '    x: T,', ') -> Result<(), Error>', 'where T: Clone {'];
    expect(fullSignature(rs, 1, 'rust')).toBe('pub fn g<T: Into<String>>( x: T, ) -> Result<(), Error> where T: Clone');
    expect(fullSignature(['export function h(a: string): void;'], 1, 'typescript')).toBe('export function h(a: string): void');
    expect(fullSignature(['def never_ends(a,'], 1, 'python')).toBeNull();
  });
});

describe('a damaged index', () => {
  it('is detected with quick_check, said in one line, and rebuilt by the next run even with nothing changed', () => {
    const { tmp: t, repo: r } = copyFixture('mcp-index-damaged-');
    try {
      const o = join(t, 'index.db');
      indexRepo(r, o);
      damageSymbols(o);
      const d = openIndex(o); // meta reads fine
      let err: unknown;
      try {
        findSymbols(d, 'Store');
      } catch (e) {
        err = e;
      } finally {
        d.close();
      }
      expect(isCorruption(err)).toBe(true);
      expect(integrityProblem(o)).toMatch(/./);
      const e = corruptIndexError(o, integrityProblem(o)!);
      expect(e).toBeInstanceOf(IndexCorruptError);
      expect(e.message).toMatch(/is damaged \(.+\): the next `mcp-index <repo>` run \(or the reindex tool\) rebuilds it$/);
      expect(damagedProblem(o)).toMatch(/./);
      // nothing changed in the repository: the marker alone makes the run rebuild
      const run = spawnSync(process.execPath, [BIN, r, '--out', o, '--json', '-q'], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).rebuilt).toMatch(/^the previous index was damaged \(.+\) and was rebuilt from scratch$/);
      expect(damagedProblem(o)).toBeNull();
      expect(integrityProblem(o)).toBeNull();
      const again = openIndex(o);
      expect(findSymbols(again, 'Store', { match: 'exact' }).results[0].path).toBe('app/store.py');
      again.close();
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('is rebuilt by an incremental run that runs into the damage', () => {
    const { tmp: t, repo: r } = copyFixture('mcp-index-damaged2-');
    try {
      const o = join(t, 'index.db');
      indexRepo(r, o);
      damageSymbols(o);
      appendFileSync(join(r, 'app/cli.py'), '\n\ndef after_damage():\n    pass\n');
      const run = spawnSync(process.execPath, [BIN, r, '--out', o, '--json', '-q'], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).rebuilt).toMatch(/damaged/);
      const again = openIndex(o);
      expect(findSymbols(again, 'after_damage', { match: 'exact' }).results.map((h) => h.path)).toEqual(['app/cli.py']);
      again.close();
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});
