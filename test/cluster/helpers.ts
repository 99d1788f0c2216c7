/**
 * Helpers for the cluster tests: real CLI processes (coordinator, workers, export), a real Redis, real trees.
 *
 * The CLI runs from a private snapshot of bin/ + dist/ taken once per test file. Other work rebuilds dist/ while
 * these long tests run; a pool thread that loads a module while tsc rewrites it fails (in Node 20 even with an
 * internal assertion that kills the process), which would show up here as a "crashed worker" that has nothing to do
 * with the code under test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterEach } from 'vitest';
import { RedisServer, type RedisServerOptions } from '../helpers/redis-server.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export { cleanupTemp, cliEnv, tempDir } from '../helpers/temp.js';
import { cleanupTemp, cliEnv, onCleanup, tempDir } from '../helpers/temp.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Build {
  /** The snapshot folder (has bin/, dist/, package.json, node_modules -> the repo's). */
  dir: string;
  bin: string;
  /** Imports a module of the snapshot's dist/, e.g. 'transport/local.js'. */
  load<T = Record<string, unknown>>(rel: string): Promise<T>;
}

let build: Build | null = null;
onCleanup(() => (build = null)); // the snapshot lived in a temp folder

/**
 * A consistent copy of the current build: waits until dist/ has been quiet for 3 s, copies it, and copies again if
 * anything changed meanwhile. Run `npx tsc -p .` first, as for every CLI test.
 */
export async function snapshotBuild(): Promise<Build> {
  if (build) return build;
  const dist = join(REPO_ROOT, 'dist');
  if (!existsSync(join(dist, 'cli/main.js'))) throw new Error('dist/ is not built: run `npx tsc -p .` first');
  const dir = tempDir('build');
  for (let attempt = 0; ; attempt++) {
    while (Date.now() - newestMtime(dist) < 3000) await sleep(1000);
    const before = newestMtime(dist);
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    cpSync(dist, join(dir, 'dist'), { recursive: true });
    if (newestMtime(dist) === before || attempt >= 20) break;
  }
  cpSync(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(REPO_ROOT, 'src/ops/dashboard/page'), join(dir, 'src/ops/dashboard/page'), { recursive: true }); // the dashboard's page, served as is
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  build = {
    dir,
    bin: join(dir, 'bin/mcp-index.js'),
    load: (rel) => import(/* @vite-ignore */ join(dir, 'dist', rel)),
  };
  return build;
}

export interface Proc {
  child: ChildProcess;
  name: string;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr matches (rejects if the process exits first). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Exit status as a shell reports it (128 + signal number when killed). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  alive(): boolean;
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const liveProcs = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of liveProcs) c.kill('SIGKILL');
});

/** Spawns `node <prefix...> bin ...args` (prefix: e.g. ['ip', 'netns', 'exec', 'ns1'] to run elsewhere). */
export function spawnCli(bin: string, args: string[], opts: { name?: string; prefix?: string[]; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Proc {
  const cmd = opts.prefix?.length ? opts.prefix[0] : process.execPath;
  const argv = opts.prefix?.length ? [...opts.prefix.slice(1), process.execPath, bin, ...args] : [bin, ...args];
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, env: cliEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  liveProcs.add(child);
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of [...waiters]) if (w.re.test(err)) waiters.splice(waiters.indexOf(w), 1), w.resolve();
  });
  const name = opts.name ?? args.slice(0, 2).join(' ');
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      liveProcs.delete(child);
      for (const w of waiters.splice(0)) w.reject(new Error(`${name} exited (${code ?? signal}) before stderr matched ${w.re}; stderr:\n${err}`));
      res({ code, signal, stdout: out, stderr: err });
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    name,
    stdout: () => out,
    stderr: () => err,
    alive,
    waitFor(re, timeoutMs = 300_000) {
      if (re.test(err)) return Promise.resolve();
      if (!alive()) return Promise.reject(new Error(`${name} already exited; stderr:\n${err}`));
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${name}: stderr did not match ${re} within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(t), res()), reject: (e) => (clearTimeout(t), rej(e)) });
      });
    },
    done,
    async kill(signal = 'SIGTERM') {
      if (!alive()) return;
      child.kill(signal);
      await done;
    },
  };
}

/** Runs the CLI to completion and returns its result (a hang is killed after `timeoutMs`). */
export async function runCli(bin: string, args: string[], timeoutMs = 600_000) {
  return spawnCli(bin, args, { timeoutMs }).done;
}

/** The export of an index as text. */
export async function exportIndex(bin: string, db: string): Promise<string> {
  const r = await runCli(bin, ['export', '--index', db]);
  if (r.code !== 0) throw new Error(`export of ${db} failed (${r.code ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** Index `root` in local mode (the reference every cluster index must equal). */
export async function localIndex(bin: string, root: string, out: string, extra: string[] = []): Promise<void> {
  const r = await runCli(bin, [root, '--out', out, '--quiet', '--threads', '2', ...extra]);
  if (r.code !== 0) throw new Error(`local index of ${root} failed (${r.code ?? r.signal}): ${r.stderr}`);
}

/** Paths of the `file` lines of an export, for "every file exactly once" checks. */
export function exportedPaths(jsonl: string): string[] {
  return jsonl
    .split('\n')
    .filter((l) => l.startsWith('{"type":"file"'))
    .map((l) => (JSON.parse(l) as { path: string }).path);
}

export function stdlibPath(): string | null {
  const r = spawnSync('python3', ['-c', 'import sysconfig;print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p && existsSync(p) ? p : null;
}

/** Folders of the standard library left out of test trees: test suites (huge, odd files), installed packages. */
const SKIP_DIRS = new Set(['test', 'tests', 'site-packages', '__pycache__', 'idle_test', 'ensurepip', 'lib2to3', 'turtledemo']);

/**
 * A tree of real Python: the standard library's modules (walked in sorted path order, test suites left out) up to
 * `maxBytes`, plus `duplicates` byte-identical copies of one small module spread through the tree
 * (content-addressed blobs must cope with the same content in many batches). Falls back to generated Python
 * without python3.
 */
export function pythonTree(dest: string, opts: { maxBytes: number; duplicates?: number; topLevelOnly?: boolean }): { files: number; bytes: number } {
  mkdirSync(dest, { recursive: true });
  let files = 0;
  let bytes = 0;
  const lib = stdlibPath();
  const names: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(lib!, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !opts.topLevelOnly && !SKIP_DIRS.has(e.name) && !e.name.startsWith('config-')) walk(r);
      else if (e.isFile() && e.name.endsWith('.py')) names.push(r);
    }
  };
  if (lib) walk('');
  for (const n of names) {
    const size = statSync(join(lib!, n)).size;
    if (size > 900 * 1024) continue; // under the default 1 MiB limit: every file parses
    if (bytes + size > opts.maxBytes) break;
    mkdirSync(dirname(join(dest, n)), { recursive: true });
    cpSync(join(lib!, n), join(dest, n));
    files++;
    bytes += size;
  }
  if (!lib) {
    // Deterministic stand-in: many mid-sized modules.
    for (let i = 0; bytes < opts.maxBytes; i++) {
      const body = Array.from({ length: 200 }, (_, j) => `class C${i}_${j}:\n    def m(self, x):\n        return helper_${j}(x) + ${j}\n\n`).join('');
      writeFileSync(join(dest, `gen_${String(i).padStart(4, '0')}.py`), body);
      files++;
      bytes += body.length;
    }
  }
  const dup = 'import os\n\n\ndef same(x):\n    """The same module in many places."""\n    return os.path.join(x, "same")\n';
  for (let i = 0; i < (opts.duplicates ?? 0); i++) {
    const p = join(dest, `pkg${String(i).padStart(2, '0')}`, '__init__.py');
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, dup);
    files++;
    bytes += dup.length;
  }
  return { files, bytes };
}

export function readJson<T>(text: string): T {
  const line = text.trim().split('\n').filter(Boolean).pop();
  if (!line) throw new Error('no JSON on stdout');
  return JSON.parse(line) as T;
}


/** Polls `cond` every 100 ms until true; fails with `what` after `timeoutMs`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 300_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Pipeline events a coordinator started with `--progress json` has written to stderr so far. */
export function events(p: Proc, type?: string): Array<Record<string, unknown> & { type: string }> {
  const out: Array<Record<string, unknown> & { type: string }> = [];
  for (const line of p.stderr().split('\n')) {
    if (!line.startsWith('{"ts"')) continue;
    try {
      const e = JSON.parse(line) as Record<string, unknown> & { type: string };
      if (!type || e.type === type) out.push(e);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Total batches of the run, from the coordinator's `planned` event (null before planning). */
export function plannedBatches(p: Proc): number | null {
  const e = events(p, 'planned')[0];
  return e ? Number(e.batches) : null;
}

export const delay = sleep;

/** Starts `mcp-index worker` and waits until it has connected and registered. */
export async function startWorkerProc(bin: string, args: string[], opts: { name: string; prefix?: string[] }): Promise<Proc> {
  const p = spawnCli(bin, ['worker', ...args, '--name', opts.name, '--log-level', 'info'], { name: `worker ${opts.name}`, prefix: opts.prefix });
  await p.waitFor(/worker started/, 120_000);
  return p;
}

/** Registers an afterEach that kills whatever processes a test started and left running, whatever its outcome. */
export function killLeftoversAfterEach(procs: Proc[]): void {
  afterEach(async () => {
    for (const p of procs.splice(0)) if (p.alive()) await p.kill('SIGKILL');
  }, 120_000);
}

/** What most cluster suites start once: a snapshot of the build, their own redis-server and a temp folder. */
export async function startSuite(name: string, redis: RedisServerOptions = {}): Promise<{ build: Build; server: RedisServer; tmp: string }> {
  const build = await snapshotBuild();
  const server = await RedisServer.start(redis);
  return { build, server, tmp: tempDir(name) };
}

/** Undoes startSuite (the server may be missing when start-up failed half-way). */
export async function stopSuite(server: RedisServer | undefined): Promise<void> {
  await server?.stop();
  cleanupTemp();
}
