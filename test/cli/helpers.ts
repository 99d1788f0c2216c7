/**
 * Helpers for the CLI tests: run the real `bin/mcp-index.js` (which loads dist/: build first) as a child process
 * with a private cache folder, and make realistic temp trees. Nothing here mocks anything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The CLI under test; MCP_INDEX_TEST_BIN points the suite at another build (e.g. an installed package). */
export const BIN = process.env.MCP_INDEX_TEST_BIN ?? join(REPO_ROOT, 'bin/mcp-index.js');
export const MIXED = join(REPO_ROOT, 'fixtures/mixed');

export { cleanupTemp, tempDir } from '../helpers/temp.js';
import { cliEnv } from '../helpers/temp.js';

/** Copies fixtures/mixed (or another folder) to `<tmp>/<name>` and returns its path. */
export function copyFixture(into: string, name = 'repo', from = MIXED): string {
  const dest = join(into, name);
  cpSync(from, dest, { recursive: true });
  return dest;
}

export function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(root, rel);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
}

export interface CliResult {
  /** The process's own exit code, or null when it was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What a shell would put in `$?`: the exit code, or 128 + the signal number (SIGINT 130, SIGABRT 134). */
  status: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to the environment; a key set to undefined is removed. */
  env?: Record<string, string | undefined>;
  /** Run as this user (needs root). */
  uid?: number;
  gid?: number;
  /** A hang is a failure, not a stuck suite: the child is killed after this long and the result says so. */
  timeoutMs?: number;
}

export interface Spawned {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves when stderr contains `text` (or rejects if the process exits first). */
  waitForStderr(text: string | RegExp): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts the CLI without waiting for it (signal tests). */
export function spawnCli(args: string[], opts: CliOptions = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: cliEnv(opts.env),
    uid: opts.uid,
    gid: opts.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { test: (s: string) => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of [...waiters]) {
      if (w.test(err)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (opts.timeoutMs) {
    timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
  }
  const done = new Promise<CliResult>((resolveDone, rejectDone) => {
    child.on('error', rejectDone);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`process exited (${code ?? signal}) before stderr showed the text; stderr:\n${err}`));
      if (timedOut) {
        rejectDone(new Error(`mcp-index ${args.join(' ')} did not finish within ${opts.timeoutMs} ms; stderr so far:\n${err}`));
        return;
      }
      const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
      resolveDone({ code, signal, status, stdout: out, stderr: err });
    });
  });
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    waitForStderr(text) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(err)) return Promise.resolve();
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`process already exited; stderr:\n${err}`));
      return new Promise((res, rej) => waiters.push({ test, resolve: res, reject: rej }));
    },
    done,
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, { timeoutMs: 90_000, ...opts }).done;
}

/** The JSONL export of an index file, as text (throws if the export fails). */
export async function exportIndex(indexPath: string): Promise<string> {
  const r = await runCli(['export', '--index', indexPath]);
  if (r.code !== 0) throw new Error(`export of ${indexPath} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Non-empty stderr lines. */
export const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);

export const NOBODY = 65534;

/**
 * Whether this process can run children as `nobody`: true when running as root with a working setuid. Root ignores
 * file permissions, so permission errors can only be produced by dropping to another user.
 */
export function canRunAsNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync(process.execPath, ['-e', 'process.exit(process.getuid() === 65534 ? 0 : 1)'], { uid: NOBODY, gid: NOBODY });
  return r.status === 0;
}

/** Lets `nobody` traverse into a temp folder (mkdtemp makes them 0700). */
export function openUp(dir: string, mode = 0o755): void {
  chmodSync(dir, mode);
}

/**
 * Deterministic, realistic-looking Python: modules of classes with docstrings, methods, calls and imports, about
 * `bytesPerFile` each. Used where a tree must be big enough to interrupt.
 */
export function generatePython(root: string, opts: { files: number; bytesPerFile: number; dir?: string }): number {
  let total = 0;
  for (let f = 0; f < opts.files; f++) {
    const parts: string[] = [`"""Generated module ${f}."""`, 'import os', 'from collections import OrderedDict', `from .mod${(f + 1) % opts.files} import helper_${(f + 1) % opts.files}`, ''];
    let size = parts.join('\n').length;
    for (let c = 0; size < opts.bytesPerFile; c++) {
      const cls = [
        `class Service${f}_${c}(object):`,
        `    """Keeps state for service ${c} of module ${f}."""`,
        '',
        `    LIMIT = ${c * 7 + 3}`,
        '',
        '    def __init__(self, name, items=None):',
        '        self.name = name',
        '        self.items = OrderedDict(items or {})',
        '',
        `    def lookup_${c}(self, key, default=None):`,
        '        if key in self.items:',
        '            return self.items[key]',
        `        return helper_${(f + 1) % opts.files}(key, default)`,
        '',
        '    def total(self):',
        '        return sum(len(str(v)) for v in self.items.values()) + self.LIMIT',
        '',
        '    @property',
        '    def path(self):',
        '        return os.path.join("/srv", self.name, str(self.total()))',
        '',
        '',
        `def helper_${f}_${c}(value, fallback=None):`,
        `    return [value, fallback, ${c}] if value else {"k": fallback, "n": ${f}}`,
        '',
        '',
      ].join('\n');
      parts.push(cls);
      size += cls.length + 1;
    }
    parts.push(`def helper_${f}(key, default=None):\n    return default\n`);
    const text = parts.join('\n');
    writeFiles(root, { [join(opts.dir ?? '', `mod${f}.py`)]: text });
    total += Buffer.byteLength(text);
  }
  return total;
}

/**
 * Deterministic pseudo-random "Python" that is mostly syntax errors: tree-sitter spends seconds in error recovery
 * on it while the tree stays small, so a run over such files is almost all parse() (extraction is cheap).
 */
export function garbagePython(bytes: number, seed: number): string {
  const alphabet = 'abc def()[]{}:=,\n "\'';
  let x = seed >>> 0 || 1;
  let out = '';
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out += alphabet[(x >>> 16) % alphabet.length];
  }
  return out;
}
