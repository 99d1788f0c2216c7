/**
 * Installs the package the way the README tells a user to, on this machine: `npm pack`, then `npm install -g` of the
 * tarball into a temporary prefix with the native dependencies' install scripts allowed. Then, from a folder outside
 * the checkout, the installed `mcp-index` prints its version, indexes a repository and serves it to the MCP SDK's
 * client.
 *
 * Made as cheap as it can be while every install script still runs: npm's cache is reused and `--prefer-offline`
 * skips revalidating it. better-sqlite3's install script takes a prebuilt binary (a user's downloads one from GitHub)
 * and compiles SQLite when there is none: here it finds the binary `npm ci` built for this checkout (when the versions
 * match; otherwise it compiles). tree-sitter compiles when its prebuilt binary does not load. Nothing is fetched from
 * GitHub.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const CHECKOUT = resolve('.');
const pkg = JSON.parse(readFileSync(join(CHECKOUT, 'package.json'), 'utf8')) as { version: string; allowScripts: Record<string, boolean> };
const ALLOWED = Object.entries(pkg.allowScripts)
  .filter(([, ok]) => ok)
  .map(([name]) => name);

let tmp: string;
let prefix: string;
let bin: string;
let outside: string;
let env: NodeJS.ProcessEnv;

/**
 * Where better-sqlite3's install script (prebuild-install) finds its prebuilt binary: a folder of tarballs named as on
 * its GitHub releases (`npm_config_better_sqlite3_local_prebuilds`), holding the binary `npm ci` built for this
 * checkout. Its download host points at a closed local port, so a version that is not there compiles at once rather
 * than waiting on GitHub.
 */
async function prebuiltBinary(dir: string): Promise<NodeJS.ProcessEnv> {
  const bs = join(CHECKOUT, 'node_modules', 'better-sqlite3');
  const version = (JSON.parse(readFileSync(join(bs, 'package.json'), 'utf8')) as { version: string }).version;
  mkdirSync(dir, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${platform()}-${arch()}.tar.gz`;
  execFileSync('tar', ['czf', join(dir, name), '-C', bs, 'build/Release/better_sqlite3.node']);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const { port } = closed.address() as { port: number };
  await new Promise((r) => closed.close(r));
  return { npm_config_better_sqlite3_local_prebuilds: dir, npm_config_better_sqlite3_binary_host: `http://127.0.0.1:${port}` };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mcp-index-install-'));
  prefix = join(tmp, 'prefix');
  outside = join(tmp, 'elsewhere');
  mkdirSync(outside);
  // npm test has just built dist/: pack it as it is (prepare would only build it again).
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: CHECKOUT, stdio: 'pipe' });
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
  expect(tarball).toBe(`mcp-index-${pkg.version}.tgz`);
  const prebuilt = await prebuiltBinary(join(tmp, 'prebuilds'));
  // The README's command, into a prefix of our own; run from outside the checkout so no project config applies.
  const args = ['install', '-g', '--prefix', prefix, `--allow-scripts=${ALLOWED.join(',')}`, '--prefer-offline', '--no-audit', '--no-fund', join(tmp, tarball)];
  await promisify(execFile)('npm', args, { cwd: outside, env: { ...process.env, ...prebuilt }, maxBuffer: 1 << 26 }).catch((err: { stderr?: string }) => {
    throw new Error(`npm install -g failed: ${err.stderr ?? String(err)}`);
  });
  bin = join(prefix, 'bin', 'mcp-index');
  env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache'), PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
  delete env.MCP_INDEX_INDEX;
  delete env.MCP_INDEX_REPO;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed tarball, installed globally', () => {
  it('allows install scripts for exactly the native dependencies', () => {
    const grammars = ['c', 'c-sharp', 'cpp', 'go', 'java', 'javascript', 'php', 'python', 'ruby', 'rust', 'typescript'].map((g) => `tree-sitter-${g}`);
    expect(ALLOWED.sort()).toEqual(['better-sqlite3', 'tree-sitter', ...grammars]);
    expect(pkg.allowScripts['msgpackr-extract']).toBe(false); // optional accelerator with prebuilt packages: nothing to build
    expect(pkg.allowScripts['@ast-grep/cli']).toBe(false); // the bench's anchor: its binary comes in a platform package
  });

  it('runs the installed mcp-index from outside the checkout', () => {
    expect(existsSync(bin)).toBe(true);
    const v = spawnSync('mcp-index', ['--version'], { cwd: outside, env, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    // the installed copy, not the checkout
    expect(readFileSync(join(prefix, 'lib', 'node_modules', 'mcp-index', 'package.json'), 'utf8')).toContain('"mcp-index"');
  });

  it('serves a repository to the MCP SDK client', async () => {
    const repo = join(outside, 'repo');
    cpSync(join(CHECKOUT, 'fixtures/query-repo'), repo, { recursive: true });
    const transport = new StdioClientTransport({ command: 'mcp-index', args: ['serve', '--repo', repo], cwd: outside, env: env as Record<string, string>, stderr: 'pipe' });
    const client = new Client({ name: 'install-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const r = (await client.callTool({ name: 'symbol_source', arguments: { name: 'Store.put' } })) as { content: { text: string }[]; isError?: boolean };
      expect(r.isError).toBeFalsy();
      expect(r.content[0].text.split('\n')[0]).toBe('method Store.put  app/store.py:26-29');
    } finally {
      await client.close();
    }
  });

  it('names the native module that does not load, and the fix, in one line', () => {
    const repo = join(outside, 'repo');
    const addon = join(prefix, 'lib', 'node_modules', 'mcp-index', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    renameSync(addon, addon + '.away');
    try {
      const r = spawnSync('mcp-index', ['find', 'Store', repo], { cwd: outside, env, encoding: 'utf8' });
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^mcp-index: the native module better-sqlite3 is not built for this system \(Could not locate the bindings file.*\)\. Fix: run `npm rebuild better-sqlite3 --foreground-scripts` in .*prefix\/lib\/node_modules\/mcp-index\/, or reinstall with --allow-scripts=better-sqlite3,/);
    } finally {
      renameSync(addon + '.away', addon);
    }
  });
});
