/**
 * The call graph over the fixture, where `load` is defined twice as a function (app/settings.py, app/plugins.py) and
 * once as a method (Settings.load), and called through an import, a module, a same-file call, an object of unknown
 * type, and by a bare name that nothing imports.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex } from '../../src/index-store/reader.js';
import { formatCallees, formatCallers, formatImpact, formatImporters } from '../../src/query/format.js';
import { findCallees, findCallers, findImpact, findImporters } from '../../src/query/graph.js';
import { filesOfModule, moduleIndex, resolveModule } from '../../src/query/modules.js';
import { copyFixture, indexRepo } from './helpers.js';

let tmp: string;
let repo: string;
let db: Database.Database;

beforeAll(() => {
  ({ tmp, repo } = copyFixture('mcp-index-graph-'));
  const out = join(tmp, 'index.db');
  indexRepo(repo, out);
  db = openIndex(out);
});

afterAll(() => {
  db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const edges = (r: ReturnType<typeof findCallers>) => r.results.map((e) => `${e.path}:${e.line} ${e.caller} ${e.via}${e.candidates > 1 ? `/${e.candidates}` : ''}`);

describe('findCallers', () => {
  it('resolves calls of an ambiguous name by file, import and scope, and marks the rest as by name', () => {
    const r = findCallers(db, { name: 'load', path: 'app/settings.py', kind: ['function'] }, repo);
    expect(r.target).toMatchObject({ qualified: 'load', path: 'app/settings.py', line: 5 });
    expect(edges(r)).toEqual([
      'app/settings.py:20 reload same-file',
      'app/settings.py:28 Settings.__init__ same-file',
      'app/settings.py:31 Settings.load same-file', // a bare load() inside the method is the module's function
      'app/runner.py:7 run import', // from app.settings import load
      'tests/test_settings.py:9 test_load_settings_file import',
      'app/loose.py:5 guess name/2', // nothing imported: either load
    ]);
    expect(r.byVia).toEqual({ 'same-file': 3, import: 2, scope: 0, name: 1 });
    // plugins.load(name) in runner.py is the other load; settings.load() is the method
    expect(r.results.some((e) => e.callee === 'plugins.load' || e.callee === 'settings.load')).toBe(false);
  });

  it('follows a module imported by name to its function', () => {
    const r = findCallers(db, { name: 'load', path: 'app/plugins.py' }, repo);
    expect(edges(r)).toEqual(['app/runner.py:9 run import', 'app/loose.py:5 guess name/2']);
    expect(r.results[0].callee).toBe('plugins.load');
  });

  it('matches a method called on an object of unknown type by name only', () => {
    const r = findCallers(db, { name: 'Settings.load' }, repo);
    expect(edges(r)).toEqual(['app/runner.py:11 run name']);
    expect(r.others.map((o) => `${o.qualified} ${o.path}:${o.line}`)).toEqual(['load app/settings.py:5']);
  });

  it('resolves self calls to the enclosing class, and Type::f to its impl', () => {
    expect(edges(findCallers(db, { name: 'Settings.check' }, repo))).toEqual(['app/settings.py:32 Settings.load same-file']);
    expect(edges(findCallers(db, { name: 'Config::new' }, repo))).toEqual(['crates/kv/src/lib.rs:23 load_config same-file']);
    expect(edges(findCallers(db, { name: 'parseArgs' }, repo))).toEqual(['web/main.ts:5 start import']);
  });

  it('leaves out by-name calls that could mean too many definitions, and counts them', () => {
    const strict = findCallers(db, { name: 'load', path: 'app/settings.py', kind: ['function'] }, repo, { maxCandidates: 1 });
    expect(strict.ambiguous).toBe(1);
    expect(strict.results).toHaveLength(5);
    expect(formatCallers(strict)).toContain('1 calls through objects of unknown type not listed');
    expect(formatCallers(strict)).toContain('resolved by name and scope, without types');
  });

  it('takes a file and a line instead of a name', () => {
    expect(findCallers(db, { path: 'app/store.py', line: 38 }, repo).target.qualified).toBe('open_store');
    expect(edges(findCallers(db, { path: 'app/store.py', line: 38 }, repo))).toEqual(['app/cli.py:16 main import', 'app/settings.py:40 persist import']);
  });
});

describe('findCallees', () => {
  it('lists every call of a definition with what it resolves to and how', () => {
    const r = findCallees(db, { name: 'run', path: 'app/runner.py' }, repo);
    expect(r.results.map((e) => `${e.line} ${e.callee} -> ${e.targets.map((t) => `${t.qualified}@${t.path}`).join(',')} ${e.via}`)).toEqual([
      '7 load -> load@app/settings.py import',
      '9 plugins.load -> load@app/plugins.py import',
      '10 Settings -> Settings@app/settings.py import',
      '11 settings.load -> Settings.load@app/settings.py name',
    ]);
  });

  it('says which calls leave the index and which match nothing', () => {
    const r = findCallees(db, { name: 'load_config' }, repo);
    const byCallee = Object.fromEntries(r.results.map((e) => [e.callee, e]));
    expect(byCallee['Config::new']).toMatchObject({ via: 'same-file', candidates: 1 });
    expect(byCallee['fs::read_to_string']).toMatchObject({ via: 'external', module: 'std::fs', candidates: 0 });
    expect(byCallee['text.lines']).toMatchObject({ via: 'unresolved' });
    const py = findCallees(db, { name: 'open_store' }, repo);
    expect(py.results.map((e) => `${e.callee} ${e.via}${e.module ? ` ${e.module}` : ''}`)).toEqual(['os.makedirs external os', 'os.path.dirname external os', 'Store same-file']);
    expect(formatCallees(py)).toContain('os.makedirs -> outside the index (os)');
  });
});

describe('findImpact', () => {
  it('walks callers by depth and does not follow ambiguous by-name calls', () => {
    const r = findImpact(db, { name: 'read_lines' }, repo);
    const nodes = r.nodes.map((n) => `${n.depth} ${n.qualified ?? '(module)'} ${n.path} ${n.via}${n.expanded ? '' : ' stop'}`);
    expect(nodes).toEqual([
      '1 load app/settings.py same-file',
      '2 reload app/settings.py same-file',
      '2 Settings.__init__ app/settings.py same-file',
      '2 Settings.load app/settings.py same-file',
      '2 run app/runner.py import',
      '2 test_load_settings_file tests/test_settings.py import',
      '2 guess app/loose.py name stop',
      '3 start app/runner.py same-file stop',
    ]);
    expect(formatImpact(r)).toContain('depth 3:');
    expect(findImpact(db, { name: 'read_lines' }, repo, { depth: 1 }).nodes.map((n) => n.qualified)).toEqual(['load']);
    expect(() => findImpact(db, { name: 'read_lines' }, repo, { depth: 9 })).toThrow(/depth must be 1 to 6/);
  });
});

describe('findImporters', () => {
  it('finds the files that import a module, by dotted name or path, and names from it', () => {
    const r = findImporters(db, 'app.settings');
    expect(r.files).toEqual(['app/settings.py']);
    expect(r.results.map((h) => `${h.path}:${h.line} ${h.name} ${h.match}`)).toEqual([
      'app/runner.py:3 Settings resolved',
      'app/runner.py:3 load resolved',
      'tests/test_settings.py:2 load resolved',
    ]);
    expect(findImporters(db, 'app/settings.py').total).toBe(3);
    // `from app import plugins` imports the module app/plugins.py
    expect(findImporters(db, 'app.plugins').results.map((h) => `${h.path}:${h.line}`)).toEqual(['app/runner.py:2']);
    // relative TS specifiers resolve to their file
    expect(findImporters(db, 'web/client.ts').results.map((h) => `${h.path} ${h.name}`)).toEqual(['web/main.ts ApiClient', 'web/main.ts parseArgs']);
    expect(formatImporters(r)).toContain('3 imports in 2 files');
  });

  it('matches a module outside the index by its name', () => {
    const r = findImporters(db, 'json');
    expect(r.files).toEqual([]);
    expect(r.results.map((h) => `${h.path}:${h.line} ${h.match}`)).toEqual(['app/store.py:2 by-name']);
    expect(findImporters(db, 'std::collections').results.map((h) => `${h.path} ${h.name} ${h.match}`)).toEqual(['crates/kv/src/lib.rs HashMap by-name']);
  });
});

describe('modules', () => {
  it('resolves Python, Rust and relative JS modules to files', () => {
    const ix = moduleIndex(db);
    const id = (p: string) => ix.byPath.get(p)!;
    const path = (ids: number[]) => ids.map((i) => ix.files.get(i)!.path);
    expect(path(resolveModule(ix, id('app/cli.py'), 'app.store'))).toEqual(['app/store.py']);
    expect(path(resolveModule(ix, id('app/cli.py'), '.store'))).toEqual(['app/store.py']);
    expect(path(resolveModule(ix, id('app/cli.py'), '..app.settings'))).toEqual(['app/settings.py']);
    expect(path(resolveModule(ix, id('app/cli.py'), 'app'))).toEqual(['app/__init__.py']);
    expect(path(resolveModule(ix, id('web/main.ts'), './client'))).toEqual(['web/client.ts']);
    expect(path(resolveModule(ix, id('web/main.ts'), './client.js'))).toEqual(['web/client.ts']);
    expect(path(resolveModule(ix, id('web/main.ts'), 'react'))).toEqual([]);
    expect(path(resolveModule(ix, id('crates/kv/src/lib.rs'), 'crate::Config'))).toEqual(['crates/kv/src/lib.rs']);
    expect(path(resolveModule(ix, id('crates/kv/src/lib.rs'), 'kv'))).toEqual(['crates/kv/src/lib.rs']);
    expect(path(filesOfModule(ix, 'app.store'))).toEqual(['app/store.py']);
    expect(path(filesOfModule(ix, 'web/client'))).toEqual(['web/client.ts']);
  });
});
