/**
 * One index whatever carries the batches: real CLI processes (local runs, a coordinator and `mcp-index worker`s)
 * and a real redis-server, on a slice of the Python standard library cut into many batches. The export must be
 * byte-equal at 1 and 2 local threads and with 1 and 3 cluster workers.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import { exportedPaths, exportIndex, killLeftoversAfterEach, pythonTree, readJson, runCli, startSuite, startWorkerProc, stopSuite, type Build, type Proc } from './helpers.js';

const avail = redisAvailability();
const BATCH = ['--batch-bytes', '64KiB'];

let build: Build;
let server: RedisServer;
let tmp: string;
let tree: string;
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
    const made = pythonTree(tree, { maxBytes: 1_500_000, duplicates: 6 });
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
  }, 900_000);
});
