/**
 * One index whatever carries the batches: real CLI processes (local runs, a coordinator and `mcp-index worker`s)
 * and a real redis-server, on a slice of the Python standard library cut into many batches. The export must be
 * byte-equal at 1 and 2 local threads and with 1 and 3 cluster workers. And blobs travel only to a worker that
 * cannot read a file itself.
 */
import { appendFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import { exportedPaths, exportIndex, killLeftoversAfterEach, pythonTree, readJson, runCli, startSuite, startWorkerProc, stopSuite, type Build, type Proc } from './helpers.js';

type WorkerMod = typeof import('../../src/transport/redis/worker.js');

const avail = redisAvailability();
const BATCH = ['--batch-bytes', '64KiB'];
/** Byte-identical modules in the tree (pkg00/__init__.py ...). */
const DUPLICATES = 6;

let build: Build;
let server: RedisServer;
let tmp: string;
let tree: string;
/** The tree's export, from the first test. */
let reference1 = '';
const procs: Proc[] = [];

async function clusterRun(ns: string, out: string): Promise<RunSummary> {
  const r = await runCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--no-cache', ...BATCH, '--json', '--progress', 'none']);
  if (r.code !== 0) throw new Error(`coordinator exited ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}`);
  return readJson<RunSummary>(r.stdout);
}

async function workers(ns: string, n: number, extra: string[] = []): Promise<Proc[]> {
  const ws = await Promise.all(
    Array.from({ length: n }, (_, i) => startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', ...extra], { name: `${ns}-w${i}` })),
  );
  procs.push(...ws);
  return ws;
}

describeWithRedis(avail, 'one index across modes, thread counts and worker counts', () => {
  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('scale'));
    tree = join(tmp, 'repo');
    const made = pythonTree(tree, { maxBytes: 1_500_000, duplicates: DUPLICATES });
    expect(made.files).toBeGreaterThan(40);
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('export is byte-equal: local at 1 and 2 threads, cluster with 1 and with 3 workers', async () => {
    const exports: Record<string, string> = {};
    for (const threads of [1, 2]) {
      const out = join(tmp, `local-${threads}.db`);
      const r = await runCli(build.bin, [tree, '--out', out, '--quiet', '--full', '--threads', String(threads), ...BATCH]);
      expect(r.code, r.stderr).toBe(0);
      exports[`local, ${threads} thread(s)`] = await exportIndex(build.bin, out);
    }
    for (const n of [1, 3]) {
      const ns = freshNamespace(`scale${n}`);
      const ws = await workers(ns, n, ['--root', tree]);
      const out = join(tmp, `cluster-${n}.db`);
      const summary = await clusterRun(ns, out);
      expect(summary.transport).toBe('redis');
      expect(summary.run.batches).toBeGreaterThan(10); // many batches, so several workers really share the run
      expect(summary.run.splits).toBe(0);
      exports[`cluster, ${n} worker(s)`] = await exportIndex(build.bin, out);
      for (const w of ws) await w.kill('SIGTERM');
    }
    const reference = exports['local, 1 thread(s)'];
    const paths = exportedPaths(reference);
    expect(paths.length).toBeGreaterThan(40);
    expect(new Set(paths).size).toBe(paths.length);
    for (const [name, text] of Object.entries(exports)) {
      expect(text.length, name).toBe(reference.length);
      expect(text === reference, `${name} exports the same bytes as local at 1 thread`).toBe(true);
    }
    reference1 = reference;
  }, 900_000);

  it('blobs on demand: a worker with the checkout fetches none, one without it gets them all, one with a stale file gets that one', async () => {
    const { startWorker } = await build.load<WorkerMod>('transport/redis/worker.js');
    const stale = join(tmp, 'stale-checkout');
    cpSync(tree, stale, { recursive: true });
    const changed = 'pkg00/__init__.py';
    appendFileSync(join(stale, changed), '\n# edited in this checkout only\n');
    const cases = [
      { name: 'with the checkout', root: tree as string | undefined },
      { name: 'without a checkout', root: undefined },
      { name: 'with a stale checkout', root: stale },
    ];
    const seen: Record<string, { fetched: number; blobs: NonNullable<RunSummary['blobs']>; parsed: number; batches: number }> = {};
    for (const c of cases) {
      const ns = freshNamespace('blobs');
      const w = await startWorker({ url: server.url(), namespace: ns, threads: 1, root: c.root, lockMs: 30_000, drainMs: 5000 });
      try {
        const out = join(tmp, `blobs-${cases.indexOf(c)}.db`);
        const summary = await clusterRun(ns, out);
        expect(await exportIndex(build.bin, out), c.name).toBe(reference1);
        seen[c.name] = { fetched: w.stats.blobsFetched, blobs: summary.blobs!, parsed: summary.run.filesParsed, batches: summary.run.batches };
      } finally {
        await w.close();
      }
    }
    // With the checkout: not one blob asked for, uploaded or fetched.
    expect(seen['with the checkout']).toMatchObject({ fetched: 0, blobs: { requests: 0, uploaded: 0, bytes: 0 } });
    // Without: every file (identical files of one batch share a blob), one request per batch.
    const none = seen['without a checkout'];
    expect(none.fetched).toBe(none.blobs.uploaded);
    expect(none.blobs.uploaded).toBeLessThanOrEqual(none.parsed);
    expect(none.blobs.uploaded).toBeGreaterThan(none.parsed - DUPLICATES);
    expect(none.blobs.requests).toBe(none.batches);
    expect(none.blobs.bytes).toBeGreaterThan(1_000_000);
    // A stale checkout: only the file whose content differs.
    expect(seen['with a stale checkout']).toMatchObject({ fetched: 1, blobs: { requests: 1, uploaded: 1 } });
  }, 900_000);
});
