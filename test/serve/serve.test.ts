import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultIndexPath } from '../../src/index-store/location.js';
import { BIN, damageSymbols, FIXTURE } from '../query/helpers.js';

// Each suite starts a server that indexes the fixture; on a busy machine a start takes seconds.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });


interface ToolResult {
  content: { type: string; text?: string }[];
  isError?: boolean;
}

const textOf = (r: unknown) =>
  (r as ToolResult).content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');

/** A server over stdio on private copies of the fixture, driven by the SDK's real client. */
async function startServer(prefix: string, args: (repos: string[]) => string[], copies = 1) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const repos = Array.from({ length: copies }, (_, i) => {
    const r = join(tmp, copies === 1 ? 'repo' : `repo${i + 1}`);
    cpSync(FIXTURE, r, { recursive: true });
    return r;
  });
  const env = { ...(process.env as Record<string, string>), XDG_CACHE_HOME: join(tmp, 'cache') };
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', ...args(repos)], env, stderr: 'pipe' });
  const s = { tmp, repos, env, transport, client: new Client({ name: 'serve-test', version: '1.0.0' }), errors: [] as Error[], log: { stderr: '' } };
  transport.stderr?.on('data', (d: Buffer) => (s.log.stderr += d.toString()));
  transport.onerror = (e) => s.errors.push(e);
  s.client.onerror = (e) => s.errors.push(e);
  await s.client.connect(transport);
  const call = (name: string, a: Record<string, unknown> = {}) => s.client.callTool({ name, arguments: a }) as Promise<ToolResult>;
  const stop = async () => {
    await s.client.close();
    rmSync(tmp, { recursive: true, force: true });
  };
  return { ...s, call, stop };
}

/** Asks until the answer passes `ok`, for at most `seconds`: the server updates its index in the background. */
async function eventually(ask: () => Promise<string>, ok: (t: string) => boolean, seconds = 30): Promise<string> {
  const end = Date.now() + seconds * 1000;
  let last = '';
  while (Date.now() < end) {
    last = await ask();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer passed within ${seconds}s; the last was:\n${last}`);
}

describe('mcp-index serve: a watched repository', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer('mcp-index-serve-', (repos) => ['--repo', repos[0]]);
  });
  afterAll(async () => s?.stop());

  it('lists its tools with their input schemas, and says that calls are resolved by name', async () => {
    const { tools } = await s.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual([
      'change_impact', 'file_outline', 'find_callees', 'find_callers', 'find_importers', 'find_references', 'get_status', 'reindex', 'search_code', 'symbol_lookup', 'symbol_source',
    ]);
    expect(byName.symbol_lookup.inputSchema.required).toEqual(['name']);
    const limit = (byName.symbol_lookup.inputSchema.properties as Record<string, { maximum?: number; type?: string }>).limit;
    expect(limit).toMatchObject({ type: 'integer', maximum: 200 });
    expect((byName.search_code.inputSchema.properties as Record<string, { enum?: string[] }>).mode.enum).toEqual(['symbols', 'content']);
    expect(Object.keys(byName.search_code.inputSchema.properties ?? {})).toContain('context');
    for (const t of ['find_callers', 'find_callees', 'change_impact']) {
      expect(byName[t].description).toMatch(/resolved by name and scope from the index \(no type checker\)/);
      expect(Object.keys(byName[t].inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['name', 'path', 'line', 'repo']));
    }
    expect(byName.find_importers.inputSchema.required).toEqual(['module']);
    expect(Object.keys(byName.reindex.inputSchema.properties ?? {})).toEqual(['full', 'repo']);
  });

  it('indexes on start and answers lookups of qualified names, saying when the index was written', async () => {
    const t = textOf(await s.call('symbol_lookup', { name: 'JSONDecoder.decode' }));
    expect(t).toMatch(/No symbols match/);
    const q = textOf(await s.call('symbol_lookup', { name: 'Store.get' }));
    expect(q).toMatch(/^method\s+exact\s+Store\.get\s+app\/store\.py:21-24\s+def get\(self, key: str, default=None\)$/m);
    expect(q).toMatch(/\[indexed \d{4}-\d\d-\d\dT[\d:.]+Z; watching for changes\]$/);
    expect(textOf(await s.call('symbol_lookup', { name: 'kv::Config::new' }))).toMatch(/Config::new\s+crates\/kv\/src\/lib\.rs:12-14/);
  });

  it('returns the source of a method by qualified name', async () => {
    const r = await s.call('symbol_source', { name: 'Settings.load' });
    expect(r.isError).toBeFalsy();
    const lines = textOf(r).split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'method Settings.load  app/settings.py:30-32',
      'signature: def load(self)',
      '30      def load(self):',
      '31          self.values = load(self.path)',
      '32          self.check()',
    ]);
    expect(textOf(r)).toContain('1 other definition matches the name; pass path or line to read another: load app/settings.py:5');
    const byLine = textOf(await s.call('symbol_source', { path: 'app/store.py', line: 33 }));
    expect(byLine.split('\n')[0]).toBe('method Store.save  app/store.py:31-34');
  });

  it('finds callers and callees of an ambiguous name, each edge saying how it was resolved', async () => {
    const callers = textOf(await s.call('find_callers', { name: 'load', path: 'app/plugins.py' }));
    expect(callers).toContain('Callers of function load  app/plugins.py:4-6');
    expect(callers).toMatch(/^app\/runner\.py\n {2}9:16 {2}import {2}plugins\.load {2}in run$/m);
    expect(callers).toMatch(/^app\/loose\.py\n {2}5:11 {2}name only \(1 of 2\) {2}load {2}in guess$/m);
    expect(callers).not.toMatch(/settings\.py/);
    const settings = textOf(await s.call('find_callers', { name: 'load', path: 'app/settings.py', kind: 'function' }));
    expect(settings).toMatch(/6 calls found \(3 same file, 2 import, 1 name only\)/);
    const callees = textOf(await s.call('find_callees', { name: 'run' }));
    expect(callees).toContain('7:13  load -> function load app/settings.py:5  [import]');
    expect(callees).toContain('9:16  plugins.load -> function load app/plugins.py:4  [import]');
    expect(callees).toContain('11:13  settings.load -> method Settings.load app/settings.py:30  [name only]');
    const impact = textOf(await s.call('change_impact', { name: 'read_lines', depth: 2 }));
    expect(impact).toMatch(/depth 1:\n {2}function load\s+app\/settings\.py:5/);
  });

  it('lists the importers of a module', async () => {
    const t = textOf(await s.call('find_importers', { module: 'app.settings' }));
    expect(t.split('\n').slice(0, 6)).toEqual(['Imports of app.settings (app/settings.py)', 'app/runner.py', '  3  Settings from app.settings', '  3  load from app.settings', 'tests/test_settings.py', '  2  load from app.settings']);
  });

  it('falls back to any word for a question in plain words, with source above tests', async () => {
    const t = textOf(await s.call('search_code', { query: 'how are the settings loaded from a file?' }));
    expect(t).toContain('(no symbol matches all of: settings loaded file; these match some of them, best first)');
    expect(t.indexOf('app/settings.py:5-11')).toBeGreaterThan(0);
    expect(t.indexOf('app/settings.py:5-11')).toBeLessThan(t.indexOf('tests/test_settings.py'));
    expect(t).toContain('Not searched for: how are the from a.');
  });

  it('searches the content of files that are not indexed, with context lines', async () => {
    const t = textOf(await s.call('search_code', { query: 'ApiClient.fetchUser', mode: 'content', context: 1 }));
    expect(t.split('\n').slice(0, 3)).toEqual([
      'web/templates/user.html-2-   <h1>{{ user.name }}</h1>',
      'web/templates/user.html:3:   <!-- filled by ApiClient.fetchUser on load -->',
      'web/templates/user.html-4-   <p>{{ user.id }}</p>',
    ]);
    const toml = textOf(await s.call('search_code', { query: 'edition', mode: 'content' }));
    expect(toml).toMatch(/^crates\/kv\/Cargo\.toml:4: edition = "2021"$/m);
  });

  it('answers a 100 KB query with a bounded error while a slow query runs, and answers other calls meanwhile', async () => {
    // A regex that backtracks exponentially on one line: slow, but finite, and on a query thread of its own.
    writeFileSync(join(s.repos[0], 'web/templates/slow.txt'), 'a'.repeat(25) + '!\n');
    await eventually(
      async () => textOf(await s.call('search_code', { query: 'aaaa', mode: 'content', path: 'web/templates/slow.txt' })),
      (t) => t.includes('slow.txt:1:'),
    );
    const order: string[] = [];
    const slow = s.call('search_code', { query: '^(a|a)+$', mode: 'content', regex: true, path: 'web/templates/slow.txt' }).then((r) => (order.push('slow'), r));
    await new Promise((r) => setTimeout(r, 50)); // let the slow one reach its thread first
    const big = s.call('search_code', { query: 'parse '.repeat(17_000) }).then((r) => (order.push('big'), r));
    const lookup = s.call('symbol_lookup', { name: 'Store.put' }).then((r) => (order.push('lookup'), r));
    const [b, l] = await Promise.all([big, lookup]);
    expect(b.isError).toBe(true);
    expect(textOf(b)).toBe('search text is too long (102000 characters; at most 1000)');
    expect(textOf(l)).toContain('app/store.py:26-29');
    expect(order).not.toContain('slow');
    expect((await slow).isError).toBeFalsy();
    expect(order.indexOf('slow')).toBe(2);
  });

  it('answers an edit made after it started', async () => {
    appendFileSync(join(s.repos[0], 'app/cli.py'), '\n\ndef brand_new_helper():\n    return 1\n');
    const t = await eventually(
      async () => textOf(await s.call('symbol_lookup', { name: 'brand_new_helper', match: 'exact' })),
      (t) => /function\s+exact\s+brand_new_helper\s+app\/cli\.py:22-23/.test(t),
    );
    expect(t).toContain('watching for changes');
    const status = textOf(await s.call('get_status'));
    expect(status).toMatch(/stale:\s+up to date/);
  });

  it('returns bad arguments as tool errors and keeps serving', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['symbol_lookup', {}, /name/],
      ['symbol_lookup', { name: 'x', limit: 0 }, /limit/],
      ['symbol_lookup', { name: 'x', kind: 'gizmo' }, /kind/],
      ['search_code', { query: '(', mode: 'content', regex: true }, /bad regular expression/],
      ['search_code', { query: 'x', mode: 'content', kind: 'function' }, /kind/],
      ['search_code', { query: 'x', context: 2 }, /context apply to mode "content"/],
      ['symbol_source', { name: 'no_such_symbol' }, /no definition named "no_such_symbol"/],
      ['find_callers', {}, /give a name/],
      ['change_impact', { name: 'load', depth: 99 }, /depth/],
      ['file_outline', { path: 'no/such/file.py' }, /not in the index/],
      ['symbol_lookup', { name: 'x', repo: 'no-such-repo' }, /unknown repository "no-such-repo"/],
      ['no_such_tool', {}, /not found/],
    ];
    for (const [tool, args, msg] of cases) {
      const r = await s.call(tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(r)).toMatch(msg);
    }
    expect((await s.call('symbol_lookup', { name: 'Store' })).isError).toBeFalsy();
  });

  it('rebuilds a damaged index', async () => {
    damageSymbols(defaultIndexPath(s.repos[0], s.env));
    const damaged = await s.call('symbol_lookup', { name: 'Store' });
    expect(damaged.isError).toBe(true);
    expect(textOf(damaged)).toMatch(/^the index .* is damaged \(.+\): the next `mcp-index <repo>` run \(or the reindex tool\) rebuilds it\. Rebuilding it now: ask again in a moment\.$/);
    await eventually(
      async () => textOf(await s.call('symbol_lookup', { name: 'Store', match: 'exact' })),
      (t) => /class\s+exact\s+Store\s+app\/store\.py:8-34/.test(t),
    );
  });

  it('kept stdout for MCP frames only', () => {
    expect(s.errors).toEqual([]);
    expect(s.log.stderr).toContain('serving repo');
    expect(s.log.stderr).toMatch(/repo: watching .*repo\n/);
    expect(s.log.stderr).toMatch(/repo: the index is damaged; rebuilding it\n/);
  });
});

describe('mcp-index serve: several repositories, and no watching', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer('mcp-index-serve2-', (repos) => ['--repo', repos[0], '--repo', repos[1], '--no-watch'], 2);
  });
  afterAll(async () => s?.stop());

  it('says when there is no index yet and points to reindex', async () => {
    const lookup = await s.call('symbol_lookup', { name: 'parse_args' });
    expect(lookup.isError).toBe(true);
    expect(textOf(lookup)).toMatch(/^No index of repo1 \(.*repo1\) .* yet\. Call the reindex tool to build it\.$/);
  });

  it('builds each index with reindex, reporting progress notifications', async () => {
    const progress: Progress[] = [];
    const r = (await s.client.callTool({ name: 'reindex', arguments: { repo: 'repo2' } }, undefined, { onprogress: (p) => progress.push(p) })) as ToolResult;
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('Files: 11 (parsed 11');
    const values = progress.map((p) => p.progress);
    expect(values.length).toBeGreaterThanOrEqual(1);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    expect(progress[progress.length - 1].message).toMatch(/done: 11 files/);
  });

  it('answers for the repository a call names, by name or path', async () => {
    writeFileSync(join(s.repos[1], 'app/only_here.py'), 'def only_in_repo2():\n    pass\n');
    expect(textOf(await s.call('reindex', { repo: s.repos[1] }))).toContain('parsed 1');
    const two = textOf(await s.call('symbol_lookup', { name: 'only_in_repo2', repo: 'repo2' }));
    expect(two).toMatch(/only_in_repo2\s+app\/only_here\.py:1-2/);
    expect(two).toMatch(/\[repo2: indexed .*; not watching for changes\]$/);
    const one = await s.call('symbol_lookup', { name: 'only_in_repo2' }); // the first repository: no index yet
    expect(one.isError).toBe(true);
    // a folder that is not served yet is served from now on
    const other = join(s.tmp, 'other');
    cpSync(FIXTURE, other, { recursive: true });
    const r = spawnSync(process.execPath, [BIN, other, '-q'], { env: s.env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(textOf(await s.call('symbol_lookup', { name: 'Store.put', repo: other }))).toMatch(/\[other: indexed/);
  });

  it('sees a new index written by another run', async () => {
    const run = spawnSync(process.execPath, [BIN, s.repos[0], '-q'], { env: s.env, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(textOf(await s.call('symbol_lookup', { name: 'parse_args', repo: 'repo1' }))).toMatch(/function\s+exact\s+parse_args\s+app\/cli\.py:7-11/);
    expect(s.errors).toEqual([]);
  });
});
