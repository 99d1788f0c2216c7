import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve('bin/mcp-index.js');
const FIXTURE = resolve('fixtures/query-repo');

interface ToolResult {
  content: { type: string; text?: string }[];
  isError?: boolean;
}

const textOf = (r: unknown) =>
  (r as ToolResult).content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');

describe('mcp-index serve (MCP over stdio)', () => {
  let tmp: string;
  let repo: string;
  let env: Record<string, string>;
  let client: Client;
  let transport: StdioClientTransport;
  const transportErrors: Error[] = [];
  let stderr = '';

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'mcp-index-serve-'));
    repo = join(tmp, 'repo');
    cpSync(FIXTURE, repo, { recursive: true });
    env = { ...(process.env as Record<string, string>), XDG_CACHE_HOME: join(tmp, 'cache') };
    transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', '--repo', repo], env, stderr: 'pipe' });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    transport.onerror = (e) => transportErrors.push(e);
    client = new Client({ name: 'serve-test', version: '1.0.0' });
    client.onerror = (e) => transportErrors.push(e);
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }) as Promise<ToolResult>;

  it('lists the six tools with their input schemas', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(['file_outline', 'find_references', 'get_status', 'reindex', 'search_code', 'symbol_lookup']);
    expect(byName.symbol_lookup.inputSchema.required).toEqual(['name']);
    expect(Object.keys(byName.symbol_lookup.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['name', 'kind', 'lang', 'path', 'match', 'limit']));
    const limit = (byName.symbol_lookup.inputSchema.properties as Record<string, { maximum?: number; type?: string }>).limit;
    expect(limit.type).toBe('integer');
    expect(limit.maximum).toBe(200);
    expect(byName.search_code.inputSchema.required).toEqual(['query']);
    expect((byName.search_code.inputSchema.properties as Record<string, { enum?: string[] }>).mode.enum).toEqual(['symbols', 'content']);
    expect(byName.find_references.inputSchema.required).toEqual(['name']);
    expect(byName.file_outline.inputSchema.required).toEqual(['path']);
    expect(byName.get_status.inputSchema.required ?? []).toEqual([]);
    expect(Object.keys(byName.reindex.inputSchema.properties ?? {})).toEqual(['full']);
  });

  it('says when there is no index yet and points to reindex', async () => {
    const lookup = await call('symbol_lookup', { name: 'parse_args' });
    expect(lookup.isError).toBe(true);
    expect(textOf(lookup)).toMatch(/No index .* yet/);
    expect(textOf(lookup)).toContain('reindex');
    const status = await call('get_status');
    expect(status.isError).toBeFalsy();
    expect(textOf(status)).toContain('reindex');
  });

  it('reindex builds the index and reports progress notifications', async () => {
    const progress: Progress[] = [];
    const r = (await client.callTool({ name: 'reindex', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) })) as ToolResult;
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('Files: 5 (parsed 5');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    const values = progress.map((p) => p.progress);
    expect([...values].sort((a, b) => a - b)).toEqual(values); // increasing
    expect(progress[progress.length - 1].message).toMatch(/done: 5 files/);
  });

  it('symbol_lookup finds a function with its path:line and signature', async () => {
    const t = textOf(await call('symbol_lookup', { name: 'parse_args' }));
    expect(t).toMatch(/function\s+parse_args\s+app\/cli\.py:7\s+def parse_args\(argv=None\)/);
    // the fuzzy tier: parseArgs (TypeScript) for the query parse_args? no: "_" is not in parseArgs; the reverse holds
    const fuzzy = textOf(await call('symbol_lookup', { name: 'parseArgs' }));
    expect(fuzzy.indexOf('web/client.ts:7')).toBeGreaterThanOrEqual(0);
    expect(fuzzy.indexOf('app/cli.py:7')).toBeGreaterThan(fuzzy.indexOf('web/client.ts:7'));
    const onlyRust = textOf(await call('symbol_lookup', { name: 'get', lang: 'rust', match: 'exact' }));
    expect(onlyRust).toContain('Config::get');
    expect(onlyRust).not.toContain('Store.get');
  });

  it('symbol_lookup cuts to the limit and says how many more there are', async () => {
    const t = textOf(await call('symbol_lookup', { name: 'e', match: 'fuzzy', limit: 2 }));
    expect(t.split('\n').filter((l) => /\.(py|ts|rs):\d+/.test(l))).toHaveLength(2);
    expect(t).toMatch(/\d+\+? more results not shown/);
  });

  it('search_code searches symbols (ranked) and file contents (substring and regex)', async () => {
    const sym = textOf(await call('search_code', { query: 'parse arguments' }));
    expect(sym).toContain('app/cli.py:7');
    const tricky = await call('search_code', { query: '"parse" AND (args* OR NEAR' });
    expect(tricky.isError).toBeFalsy();
    const content = textOf(await call('search_code', { query: 'query-marker', mode: 'content' }));
    expect(content).toContain('app/store.py:32: # query-marker: persisted with json.dump');
    const regex = textOf(await call('search_code', { query: 'json\\.dump\\(\\{', mode: 'content', regex: true }));
    expect(regex).toContain('app/store.py:34:');
    expect(regex.split('\n').filter((l) => /:\d+: /.test(l))).toHaveLength(1);
  });

  it('find_references lists calls and imports grouped by file', async () => {
    const t = textOf(await call('find_references', { name: 'open_store' }));
    expect(t).toMatch(/^app\/cli\.py$/m);
    expect(t).toMatch(/16:\d+\s+call\s+open_store\s+in main/);
    expect(t).toMatch(/4:\d+\s+import/);
    const calls = textOf(await call('find_references', { name: 'open_store', kind: 'call' }));
    expect(calls).not.toMatch(/^\s+\d+:\d+\s+import/m);
    expect(calls).toContain('16:');
    const qualified = textOf(await call('find_references', { name: 'Config::new' }));
    expect(qualified).toContain('crates/kv/src/lib.rs');
    expect(qualified).toMatch(/23:\d+\s+call\s+Config::new\s+in load_config/);
  });

  it('file_outline nests methods under their class', async () => {
    const t = textOf(await call('file_outline', { path: 'app/store.py' }));
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^app\/store\.py \(python, \d+ symbols\)$/);
    const col = lines[1].indexOf('SYMBOL');
    const symbolCol = (prefix: string) => lines.find((l) => l.startsWith(prefix + ' '))?.slice(col);
    expect(symbolCol('8-34')).toMatch(/^class Store\s+class Store$/);
    expect(symbolCol('11-15')).toMatch(/^ {2}class Entry\s/);
    expect(symbolCol('14-15')).toMatch(/^ {4}method __init__\s+def __init__\(self, value\)/);
    expect(symbolCol('21-24')).toMatch(/^ {2}method get\s+def get\(self, key: str, default=None\)/);
    expect(symbolCol('37-40')).toMatch(/^function open_store/);
    const top = textOf(await call('file_outline', { path: 'store.py', max_depth: 1 }));
    expect(top).not.toContain('method get');
    expect(top).toContain('function open_store');
  });

  it('get_status reports contents and freshness', async () => {
    const t = textOf(await call('get_status'));
    expect(t).toMatch(/files:\s+5 \(/);
    expect(t).toContain('python 3');
    expect(t).toMatch(/stale:\s+up to date/);
  });

  it('returns bad arguments as tool errors and keeps serving', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['symbol_lookup', {}, /name/],
      ['symbol_lookup', { name: 'x', limit: 0 }, /limit/],
      ['symbol_lookup', { name: 'x', limit: 100000 }, /limit/],
      ['symbol_lookup', { name: 'x', kind: 'gizmo' }, /kind/],
      ['search_code', { query: '(', mode: 'content', regex: true }, /bad regular expression/],
      ['search_code', { query: 'x', mode: 'content', kind: 'function' }, /kind/],
      ['file_outline', { path: 'no/such/file.py' }, /not in the index/],
      ['find_references', { name: 42 }, /name/],
      ['no_such_tool', {}, /not found/],
    ];
    for (const [tool, args, msg] of cases) {
      const r = await call(tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(r)).toMatch(msg);
    }
    const ok = await call('symbol_lookup', { name: 'Store' });
    expect(ok.isError).toBeFalsy();
  });

  it('sees a new index written by another run without a restart', async () => {
    appendFileSync(join(repo, 'app/cli.py'), '\n\ndef brand_new_helper():\n    return 1\n');
    const before = await call('symbol_lookup', { name: 'brand_new_helper', match: 'exact' });
    expect(textOf(before)).toContain('No symbols match');
    const status = textOf(await call('get_status'));
    expect(status).toMatch(/1 changed, 0 missing/);
    const run = spawnSync(process.execPath, [BIN, repo, '-q'], { env, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const after = textOf(await call('symbol_lookup', { name: 'brand_new_helper', match: 'exact' }));
    expect(after).toMatch(/function\s+brand_new_helper\s+app\/cli\.py:22/);
  });

  it('kept stdout for MCP frames only', () => {
    expect(transportErrors).toEqual([]);
    expect(stderr).toContain('serving');
  });
});
