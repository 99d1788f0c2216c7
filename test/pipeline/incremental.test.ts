/**
 * Incremental runs must equal a full rebuild: modify, add, delete and rename files between runs and compare the
 * deterministic exports. Real files, real tree-sitter, real SQLite.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOptions } from '../../src/config/options.js';
import { changedSince } from '../../src/discover/changed.js';
import { exportJsonl } from '../../src/index-store/export.js';
import { openIndex } from '../../src/index-store/reader.js';
import type { RunSummary } from '../../src/pipeline/events.js';
import { runIndex } from '../../src/pipeline/run.js';
import { watchRepository } from '../../src/pipeline/watch.js';
import { LocalTransport } from '../../src/transport/local.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/extract');
let transport: LocalTransport;
const dirs: string[] = [];

function tempRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-inc-'));
  dirs.push(dir);
  const root = join(dir, 'repo');
  cpSync(FIXTURE, root, { recursive: true, filter: (src) => !src.endsWith('.golden') });
  return root;
}

async function index(root: string, out: string, extra: Record<string, unknown> = {}, only?: Set<string>): Promise<RunSummary> {
  const o = buildOptions(root, { out, threads: 2, quiet: true, ...extra });
  return runIndex(o, { transport, only });
}

function exportOf(out: string): string {
  const db = openIndex(out);
  try {
    return [...exportJsonl(db)].join('\n');
  } finally {
    db.close();
  }
}

beforeAll(() => {
  transport = new LocalTransport({ threads: 2 });
});
afterAll(async () => {
  await transport.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('incremental indexing', () => {
  it('re-parses only what changed and equals a full rebuild after modify, add, delete and rename', async () => {
    const root = tempRepo();
    const out = join(root, '..', 'inc.db');
    const first = await index(root, out);
    expect(first.run.filesParsed).toBeGreaterThan(4);

    appendFileSync(join(root, 'python', 'models.py'), '\n\ndef added_later(x):\n    """Appended."""\n    return x\n');
    writeFileSync(join(root, 'python', 'brand_new.py'), 'def fresh():\n    return 1\n');
    rmSync(join(root, 'rust', 'broken.rs'));
    renameSync(join(root, 'python', 'edge.py'), join(root, 'python', 'renamed_edge.py'));

    const second = await index(root, out);
    expect(second.run.filesParsed).toBe(2); // models.py (modified) and brand_new.py (new)
    expect(second.run.filesRemoved).toBe(2); // broken.rs and the old name of edge.py
    expect(second.run.filesReused).toBe(first.run.filesParsed - 2); // rename reused, not parsed

    const full = join(root, '..', 'full.db');
    await index(root, full, { full: true });
    expect(exportOf(out)).toBe(exportOf(full));
    expect(exportOf(out)).toContain('"name":"added_later"');
    expect(exportOf(out)).toContain('"path":"python/renamed_edge.py"');
  });

  it('leaves an unchanged index untouched', async () => {
    const root = tempRepo();
    const out = join(root, '..', 'same.db');
    await index(root, out);
    const before = exportOf(out);
    const again = await index(root, out);
    expect(again.run.filesParsed).toBe(0);
    expect(again.run.filesRemoved).toBe(0);
    expect(exportOf(out)).toBe(before);
  });

  it('rebuilds everything when the index was made by another extractor version', async () => {
    const root = tempRepo();
    const out = join(root, '..', 'ver.db');
    const first = await index(root, out);
    const db = new Database(out);
    db.prepare("UPDATE meta SET value = '0' WHERE key = 'extractor_version'").run();
    db.close();
    const second = await index(root, out);
    expect(second.run.filesParsed).toBe(first.run.filesParsed);
    expect(second.run.filesReused).toBe(0);
    const meta = new Database(out, { readonly: true });
    expect(meta.prepare("SELECT value FROM meta WHERE key = 'extractor_version'").pluck().get()).not.toBe('0');
    meta.close();
  });

  it('--changed-since picks exactly git diff plus untracked files, and a partial run keeps the rest', async () => {
    const root = tempRepo();
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '-A');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'base');
    const out = join(root, '..', 'cs.db');
    await index(root, out);

    appendFileSync(join(root, 'rust', 'lib.rs'), '\npub fn appended() {}\n');
    rmSync(join(root, 'python', 'broken.py'));
    mkdirSync(join(root, 'python', 'pkg'));
    writeFileSync(join(root, 'python', 'pkg', 'untracked.py'), 'def u():\n    pass\n');

    const picked = await changedSince(root, 'HEAD');
    const gitDiff = git('diff', '--name-only', 'HEAD').split('\n').filter(Boolean);
    const untracked = git('ls-files', '-o', '--exclude-standard').split('\n').filter(Boolean);
    expect([...picked].sort()).toEqual([...new Set([...gitDiff, ...untracked])].sort());

    const partial = await index(root, out, {}, picked);
    expect(partial.run.filesParsed).toBe(2);
    expect(partial.run.filesRemoved).toBe(1);
    const full = join(root, '..', 'cs-full.db');
    await index(root, full, { full: true });
    expect(exportOf(out)).toBe(exportOf(full));
  });
});

describe('watch', () => {
  it('re-indexes a change once, then stays idle', async () => {
    const root = tempRepo();
    const out = join(root, '..', 'watch.db');
    const o = buildOptions(root, { out, threads: 1, quiet: true });
    const runs: { changed: number; parsed: number }[] = [];
    const ac = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const errors: unknown[] = [];
    const done = watchRepository(o, {
      debounceMs: 200,
      signal: ac.signal,
      onRun: (s, changed) => runs.push({ changed, parsed: s.run.filesParsed }),
      onError: (e) => errors.push(e),
      onReady: ready,
    });
    await isReady;
    expect(runs).toHaveLength(1); // the initial run

    appendFileSync(join(root, 'python', 'models.py'), '\ndef watched():\n    pass\n');
    await waitFor(() => runs.length >= 2);
    expect(runs[1]).toEqual({ changed: 1, parsed: 1 });
    expect(exportOf(out)).toContain('"name":"watched"');

    // Idle: the run's own writes (the index lives beside the repo here, but also its .building) trigger nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(runs).toHaveLength(2);
    ac.abort();
    await done;
    expect(errors).toEqual([]);
  });

  it('ignores its own index when it lives inside the repository', async () => {
    const root = tempRepo();
    const out = join(root, '.mcp-index', 'index.db');
    const o = buildOptions(root, { out, threads: 1, quiet: true });
    const runs: number[] = [];
    const ac = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = watchRepository(o, { debounceMs: 150, signal: ac.signal, onRun: (_s, c) => runs.push(c), onError: () => {}, onReady: ready });
    await isReady;
    appendFileSync(join(root, 'rust', 'lib.rs'), '\npub fn w() {}\n');
    await waitFor(() => runs.length >= 2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(runs).toEqual([expect.any(Number), 1]);
    ac.abort();
    await done;
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
