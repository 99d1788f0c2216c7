/**
 * README "Isolating bad files": a batch that keeps failing is split until the bad file stands alone; that file ends
 * as `worker-crash` and every other file of the batch is indexed. Here one file really kills its pool thread every
 * time (fixtures/failure/crash-thread.mjs), in both transports: the local pool, and a Redis worker against a
 * redis-server this suite starts.
 */
import { copyFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import type { Transport } from '../../src/transport/types.js';
import { cleanupTemp, REPO_ROOT, snapshotBuild, tempDir, type Build } from '../cluster/helpers.js';
import { describeWithRedis, freshNamespace, RedisServer, redisAvailability } from '../helpers/redis-server.js';

type OptionsMod = typeof import('../../src/config/options.js');
type RunMod = typeof import('../../src/pipeline/run.js');
type LocalMod = typeof import('../../src/transport/local.js');
type CoordMod = typeof import('../../src/transport/redis/coordinator.js');
type WorkerMod = typeof import('../../src/transport/redis/worker.js');

const CRASHER = 'pkg/crash-worker.py';
/** More than the 256 KiB a run parses inline on the main thread: these batches go to the pool. */
const FILES = 48;

let build: Build;
let threadFile: string;
let root: string;
let mods: { options: OptionsMod; run: RunMod; local: LocalMod; coord: CoordMod; worker: WorkerMod };

beforeAll(async () => {
  build = await snapshotBuild();
  threadFile = join(build.dir, 'dist/worker/crash-thread.mjs');
  copyFileSync(join(REPO_ROOT, 'fixtures/failure/crash-thread.mjs'), threadFile);
  mods = {
    options: await build.load<OptionsMod>('config/options.js'),
    run: await build.load<RunMod>('pipeline/run.js'),
    local: await build.load<LocalMod>('transport/local.js'),
    coord: await build.load<CoordMod>('transport/redis/coordinator.js'),
    worker: await build.load<WorkerMod>('transport/redis/worker.js'),
  };
  root = join(tempDir('worker-crash'), 'repo');
  mkdirSync(join(root, 'pkg'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const body = Array.from({ length: 200 }, (_, j) => `def f${i}_${j}(x):\n    return x + ${j}\n`).join('\n');
    writeFileSync(join(root, `pkg/m${i}.py`), body);
  }
  writeFileSync(join(root, CRASHER), 'def never_indexed():\n    return 1\n');
}, 300_000);

afterAll(() => cleanupTemp());

async function indexWith(transport: Transport, extra: Record<string, unknown>, resumable = false): Promise<{ summary: RunSummary; files: Map<string, string> }> {
  const out = join(tempDir('worker-crash-out'), 'index.db');
  // One batch for the whole tree, so the crash takes every other file's batch down with it.
  const o = mods.options.buildOptions(root, { out, threads: 2, quiet: true, progress: 'none', batchFiles: 1000, batchBytes: '64MiB', ...extra });
  const summary = await mods.run.runIndex(o, { transport, resumable }); // cluster runs are resumable (cli/cluster.ts)
  const db = new Database(out, { readonly: true });
  const rows = db.prepare<[], { path: string; status: string; error_code: string | null }>('SELECT path, status, error_code FROM files').all();
  db.close();
  return { summary, files: new Map(rows.map((r) => [r.path, r.error_code ?? r.status])) };
}

function expectIsolated({ summary, files }: { summary: RunSummary; files: Map<string, string> }): void {
  expect(summary.run.splits).toBeGreaterThan(0);
  expect(files.get(CRASHER)).toBe('worker-crash');
  expect(files.size).toBe(FILES + 1);
  const others = [...files].filter(([p]) => p !== CRASHER);
  expect(others.filter(([, s]) => s !== 'ok')).toEqual([]);
  expect(summary.index.errorsByCode).toEqual({ 'worker-crash': 1 });
}

describe('a file that crashes its worker every time', () => {
  it('local pool: the batch is split, the file ends as worker-crash, every other file is indexed', async () => {
    const transport = new mods.local.LocalTransport({ threads: 2, threadFile });
    try {
      expectIsolated(await indexWith(transport, {}));
    } finally {
      await transport.close();
    }
  }, 300_000);

  describeWithRedis(redisAvailability(), 'Redis', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await RedisServer.start();
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('Redis worker: the batch is split, the file ends as worker-crash, every other file is indexed', async () => {
      const namespace = freshNamespace('crash');
      const conn = { url: server.url() };
      const worker = await mods.worker.startWorker({ ...conn, namespace, threads: 2, root, threadFile, lockMs: 30_000, drainMs: 30_000 });
      const transport = await mods.coord.RedisTransport.create({ ...conn, namespace, root, window: 8, backoffMs: 100 });
      try {
        expectIsolated(await indexWith(transport, { cluster: true, redis: conn.url, namespace }, true));
      } finally {
        await transport.close();
        await worker.close();
      }
    }, 300_000);
  });
});
