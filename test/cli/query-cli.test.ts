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
    expect(lines[0]).toMatch(/^KIND\s+NAME\s+LOCATION\s+SIGNATURE$/);
    expect(lines[1]).toMatch(/^struct\s+Config\s+crates\/kv\/src\/lib\.rs:6\s+pub struct Config$/);
    expect(lines[2]).toMatch(/^impl\s+Config\s+crates\/kv\/src\/lib\.rs:10\s+impl Config$/);
    expect(lines[3]).toMatch(/^function\s+load_config\s+crates\/kv\/src\/lib\.rs:22\s+pub fn load_config\(path: &str\) -> Config$/);
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
    expect(out.split('\n').filter((l) => /:\d+\s/.test(l))).toHaveLength(2);
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
    expect(ok(['search', 'parse arguments']).split('\n')[1]).toMatch(/^function\s+parse_args\s+app\/cli\.py:7\s/);
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
    expect(out).toContain('2 references (1 calls, 1 imports)');
    const r = json(['refs', 'open_store', '--kind', 'call']);
    expect(r.files).toEqual([{ path: 'app/cli.py', refs: [expect.objectContaining({ kind: 'call', line: 16, scope: 'main' })] }]);
    expect(r.total).toBe(1);
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
    expect(s).toMatchObject({ files: 5, root: repo, languages: { python: 3, rust: 1, typescript: 1 }, stale: { changed: 0, missing: 0 } });
    expect(s.index).toContain(join(tmp, 'cache', 'mcp-index'));
    const out = ok(['status']);
    expect(out).toMatch(/^index:\s+.*index\.db/m);
    expect(out).toMatch(/^files:\s+5 \(python 3, rust 1, typescript 1\)/m);
    expect(out).toMatch(/^stale:\s+up to date \(5 files checked\)/m);

    appendFileSync(join(repo, 'web/client.ts'), '\n// changed\n');
    const after = ok(['status']);
    expect(after).toMatch(/^stale:\s+1 changed, 0 missing of 5 indexed files/m);
    expect(after).toMatch(/^\s+changed: web\/client\.ts$/m);
    expect(json(['status']).stale.changedPaths).toEqual(['web/client.ts']);
  });
});
