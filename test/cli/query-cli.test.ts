import { spawnSync } from 'node:child_process';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BIN, copyFixture } from '../query/helpers.js';

// Every case spawns the CLI a few times; on a busy machine each start takes seconds.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

let tmp: string;
let repo: string;
let env: NodeJS.ProcessEnv;

/** Runs the CLI with the test's private cache folder; `cwd` defaults to the fixture repository. */
function cli(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: cwd ?? repo, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], cwd?: string): string {
  const r = cli(args, cwd);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const json = (args: string[], cwd?: string) => JSON.parse(ok([...args, '--json'], cwd));

beforeAll(() => {
  ({ tmp, repo } = copyFixture('mcp-index-cli-'));
  env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') };
  delete env.MCP_INDEX_INDEX;
  delete env.MCP_INDEX_REPO;
  ok([repo, '-q']);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('mcp-index find', () => {
  it('prints a table of ranked matches', () => {
    const out = ok(['find', 'Config']);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^KIND\s+MATCH\s+NAME\s+LOCATION\s+SIGNATURE$/);
    expect(lines[1]).toMatch(/^struct\s+exact\s+Config\s+crates\/kv\/src\/lib\.rs:6-8\s+pub struct Config$/);
    expect(lines[2]).toMatch(/^impl\s+exact\s+Config\s+crates\/kv\/src\/lib\.rs:10-19\s+impl Config$/);
    expect(lines[3]).toMatch(/^function\s+fuzzy\s+load_config\s+crates\/kv\/src\/lib\.rs:22-31\s+pub fn load_config\(path: &str\) -> Config$/);
    expect(out).toContain('3 of 3 matches (2 exact, 0 prefix, 1 fuzzy)');
  });

  it('prints JSON with --json', () => {
    const r = json(['find', 'parse_args']);
    expect(r.results[0]).toMatchObject({ path: 'app/cli.py', line: 7, kind: 'function', name: 'parse_args', signature: 'def parse_args(argv=None)', doc: 'Parse command line arguments.', match: 'exact', language: 'python' });
    expect(r.total).toBe(r.results.length);
  });

  it('filters and limits, and says what was cut', () => {
    expect(json(['find', 'get', '--kind', 'method', '--lang', 'rust']).results.map((h: { qualified: string }) => h.qualified)).toEqual(['Config::get']);
    expect(json(['find', 'get', '--path', 'app/**', '--match', 'exact']).results.map((h: { qualified: string }) => h.qualified)).toEqual(['Store.get']);
    const out = ok(['find', 'e', '--limit', '2']);
    expect(out.split('\n').filter((l) => /:\d+(-\d+)?\s/.test(l))).toHaveLength(2);
    expect(out).toMatch(/\d+\+? more results not shown \(use --limit N to see more\)/);
  });

  it('reads the repository given as a positional, --repo or --index', () => {
    const elsewhere = tmp;
    expect(json(['find', 'Store', repo], elsewhere).results[0].path).toBe('app/store.py');
    expect(json(['find', 'Store', '--repo', repo], elsewhere).results[0].path).toBe('app/store.py');
    const status = json(['status', repo], elsewhere);
    expect(json(['find', 'Store', '--index', status.index], elsewhere).results[0].path).toBe('app/store.py');
    // from a subfolder, the nearest parent with an index is used
    expect(json(['find', 'Store'], join(repo, 'crates/kv')).results[0].path).toBe('app/store.py');
  });

  it('fails with one line and exit code 2 on bad arguments or no index', () => {
    const bad = cli(['find', 'x', '--kind', 'gizmo']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^mcp-index: unknown kind "gizmo"/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const none = cli(['find', 'x'], tmp);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^mcp-index: no index for .* run `mcp-index/);
    expect(cli(['find', 'x', '--limit', '0']).code).toBe(2);
  });
});

describe('mcp-index search', () => {
  it('searches symbols (table and JSON)', () => {
    expect(ok(['search', 'parse arguments']).split('\n')[1]).toMatch(/^function\s+parse_args\s+app\/cli\.py:7-11\s/);
    const r = json(['search', 'fetch user']);
    expect(r.results[0]).toMatchObject({ qualified: 'ApiClient.fetchUser', path: 'web/client.ts', line: 20 });
    expect(typeof r.results[0].score).toBe('number');
  });

  it('searches file contents by substring and regex', () => {
    expect(ok(['search', 'query-marker', '--content']).trim()).toContain('app/store.py:32: # query-marker: persisted with json.dump');
    const r = json(['search', 'fn \\w+\\(&self', '--regex']);
    expect(r.results).toEqual([{ path: 'crates/kv/src/lib.rs', line: 16, col: 8, text: 'pub fn get(&self, key: &str) -> Option<&String> {' }]);
    expect(r.regex).toBe(true);
    const sensitive = json(['search', 'config', '-c', '-s']);
    expect(sensitive.results.every((h: { text: string }) => h.text.includes('config'))).toBe(true);
    const insensitive = json(['search', 'config', '-c', '-i']);
    expect(insensitive.total).toBeGreaterThan(sensitive.total);
    expect(json(['search', 'self', '-c', '--path', '*.rs']).results.every((h: { path: string }) => h.path.endsWith('.rs'))).toBe(true);
  });

  it('rejects a bad regex and option mix-ups', () => {
    const r = cli(['search', '(', '--regex']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mcp-index: bad regular expression/);
    expect(cli(['search', 'x', '-c', '--kind', 'function']).code).toBe(2);
  });
});

describe('mcp-index refs', () => {
  it('groups references by file', () => {
    const out = ok(['refs', 'open_store']);
    expect(out).toMatch(/^app\/cli\.py\n\s+4:\d+\s+import\s+app\.store\n\s+16:\d+\s+call\s+open_store\s+in main\n/);
    expect(out).toContain('4 references (2 calls, 2 imports)');
    const r = json(['refs', 'open_store', '--kind', 'call']);
    expect(r.files).toEqual([
      { path: 'app/cli.py', refs: [expect.objectContaining({ kind: 'call', line: 16, scope: 'main' })] },
      { path: 'app/settings.py', refs: [expect.objectContaining({ kind: 'call', line: 40, scope: 'persist' })] },
    ]);
    expect(r.total).toBe(2);
  });
});

describe('mcp-index source, callers, callees, impact, importers', () => {
  it('prints the source of a symbol by qualified name, or by file and line', () => {
    const out = ok(['source', 'Store.save']);
    expect(out.split('\n').slice(0, 3)).toEqual(['method Store.save  app/store.py:31-34', 'signature: def save(self) -> None', '31      def save(self) -> None:']);
    const r = json(['source', '--path', 'app/store.py', '--line', '39', '--max-lines', '2']);
    expect(r).toMatchObject({ from: 37, to: 38, cut: true, symbol: { qualified: 'open_store' } });
    expect(r.indexedAt).toMatch(/^\d{4}-/);
    const none = cli(['source', 'Nope.nothing']);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('mcp-index: no definition named "Nope.nothing"');
  });

  it('prints callers and callees with how each call was resolved', () => {
    const callers = ok(['callers', 'load', '--path', 'app/plugins.py']);
    expect(callers).toContain('Callers of function load  app/plugins.py:4-6');
    expect(callers).toMatch(/^ {2}9:16 {2}import {2}plugins\.load {2}in run$/m);
    expect(callers).toMatch(/^ {2}5:11 {2}name only \(1 of 2\) {2}load {2}in guess$/m);
    const r = json(['callers', 'load', '--path', 'app/settings.py', '--kind', 'function']);
    expect(r.byVia).toEqual({ 'same-file': 3, import: 2, scope: 0, name: 1 });
    const callees = json(['callees', 'main']);
    expect(callees.results.map((e: { callee: string; via: string }) => `${e.callee} ${e.via}`)).toEqual(['parse_args same-file', 'open_store import', 'store.put name', 'store.save name']);
  });

  it('prints the impact of a change and the importers of a module', () => {
    const impact = ok(['impact', 'read_lines']);
    expect(impact).toMatch(/^depth 2:$/m);
    expect(impact).toMatch(/function guess\s+app\/loose\.py:4\s+calls load at line 5 \[name only, 1 of 2\] \(not followed\)/);
    const importers = json(['importers', 'app/store.py']);
    expect(importers.results.map((h: { path: string; name: string }) => `${h.path} ${h.name}`)).toEqual(['app/cli.py Store', 'app/cli.py open_store', 'app/settings.py open_store']);
  });

  it('shows context lines around content matches, in non-indexed files too', () => {
    const out = ok(['search', 'edition', '--context', '1']);
    expect(out.trim().split('\n')).toEqual(['crates/kv/Cargo.toml-3- version = "0.1.0"', 'crates/kv/Cargo.toml:4: edition = "2021"', '(no content index: searched the files on disk)']);
  });
});

describe('mcp-index outline', () => {
  it('prints nested symbols (indented table, children in JSON)', () => {
    const out = ok(['outline', 'app/store.py']);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^app\/store\.py \(python, \d+ symbols\)$/);
    const col = lines[1].indexOf('SYMBOL');
    expect(lines.find((l) => l.startsWith('26-29'))?.slice(col)).toMatch(/^ {2}method put\s+def put\(self, key: str, value\) -> None$/);
    const r = json(['outline', 'lib.rs']);
    expect(r.path).toBe('crates/kv/src/lib.rs');
    expect(r.symbols.map((s: { name: string }) => s.name)).toEqual(['Config', 'Config', 'load_config']);
    expect(r.symbols[1].children.map((s: { name: string; line: number }) => [s.name, s.line])).toEqual([
      ['new', 12],
      ['get', 16],
    ]);
  });

  it('takes paths relative to the current folder, and --depth', () => {
    expect(json(['outline', 'store.py'], join(repo, 'app')).path).toBe('app/store.py');
    const out = ok(['outline', 'app/store.py', '--depth', '1']);
    expect(out).not.toContain('method');
    expect(out).toMatch(/\d+ more symbols not shown/);
    const missing = cli(['outline', 'nope.py']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/file not in the index: nope\.py/);
  });
});

describe('mcp-index status', () => {
  it('reports the index and whether files changed since', () => {
    const s = json(['status']);
    expect(s).toMatchObject({ files: 11, root: repo, languages: { python: 8, rust: 1, typescript: 2 }, stale: { changed: 0, missing: 0 } });
    expect(s.index).toContain(join(tmp, 'cache', 'mcp-index'));
    const out = ok(['status']);
    expect(out).toMatch(/^index:\s+.*index\.db/m);
    expect(out).toMatch(/^files:\s+11 \(python 8, typescript 2, rust 1\)/m);
    expect(out).toMatch(/^stale:\s+up to date \(11 files checked\)/m);

    appendFileSync(join(repo, 'web/client.ts'), '\n// changed\n');
    const after = ok(['status']);
    expect(after).toMatch(/^stale:\s+1 changed, 0 missing of 11 indexed files/m);
    expect(after).toMatch(/^\s+changed: web\/client\.ts$/m);
    expect(json(['status']).stale.changedPaths).toEqual(['web/client.ts']);
  });
});
