/**
 * Priorities on the shared queue: a large low-priority run is queued first, a small urgent run second, and only
 * then does a single one-thread worker start. The urgent run must finish first, and both indexes must be right.
 * (BullMQ takes lower numbers first; mcp-index maps urgent=1, high=2, normal=3, low=4.)
 */
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import {
  exportIndex,
  killLeftoversAfterEach,
  localIndex,
  plannedBatches,
  pythonTree,
  readJson,
  spawnCli,
  startSuite,
  startWorkerProc,
  stopSuite,
  waitUntil,
  type Build,
  type Proc,
} from './helpers.js';

const avail = redisAvailability();
const BATCH = ['--batch-bytes', '64KiB'];

let build: Build;
let server: RedisServer;
let tmp: string;
const procs: Proc[] = [];

describeWithRedis(avail, 'cluster priority (real processes, real Redis)', () => {
  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('priority'));
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('runs an urgent run queued behind a large low-priority run first', async () => {
    const ns = freshNamespace('prio');
    const big = join(tmp, 'big');
    const small = join(tmp, 'small');
    pythonTree(big, { maxBytes: 3_000_000 });
    pythonTree(small, { maxBytes: 200_000, duplicates: 3 });
    await localIndex(build.bin, big, join(tmp, 'big-local.db'));
    await localIndex(build.bin, small, join(tmp, 'small-local.db'));

    const connection = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queue = new Queue('batches', { connection, prefix: ns });
    try {
      const coordinator = (root: string, out: string, priority: string) => {
        const p = spawnCli(build.bin, [root, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--priority', priority, ...BATCH, '--window', '32', '--json', '--progress', 'json'], { name: `${priority} run` });
        procs.push(p);
        return p;
      };
      const low = coordinator(big, join(tmp, 'big.db'), 'low');
      await waitUntil(() => {
        if (!low.alive()) throw new Error(`low run exited early: ${low.stderr()}`);
        return plannedBatches(low) !== null;
      }, 'the low run to plan');
      const lowTotal = plannedBatches(low)!;
      expect(lowTotal).toBeGreaterThan(32); // more than one window: it keeps refilling while the urgent run waits
      // Its whole window is queued (no worker yet) before the urgent run starts.
      await waitUntil(async () => (await queue.getCountsPerPriority([4]))['4'] === 32, 'the low run to queue its window of 32 batches');

      const urgent = coordinator(small, join(tmp, 'small.db'), 'urgent');
      await waitUntil(() => plannedBatches(urgent) !== null, 'the urgent run to plan');
      const urgentTotal = plannedBatches(urgent)!;
      expect(urgentTotal).toBeGreaterThan(1);
      await waitUntil(async () => (await queue.getCountsPerPriority([1]))['1'] === urgentTotal, `the urgent run to queue its ${urgentTotal} batches`);

      const order: string[] = [];
      void low.done.then(() => order.push('low'));
      void urgent.done.then(() => order.push('urgent'));
      const w = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1'], { name: 'only' });
      procs.push(w);

      const u = await urgent.done;
      expect(u.code, u.stderr.slice(-3000)).toBe(0);
      expect(low.alive(), 'the low run finished before the urgent one').toBe(true);
      const l = await low.done;
      expect(l.code, l.stderr.slice(-3000)).toBe(0);
      expect(order).toEqual(['urgent', 'low']);

      expect(readJson<RunSummary>(u.stdout).run.batches).toBe(urgentTotal);
      expect(readJson<RunSummary>(l.stdout).run.batches).toBe(lowTotal);
      expect(await exportIndex(build.bin, join(tmp, 'small.db'))).toBe(await exportIndex(build.bin, join(tmp, 'small-local.db')));
      expect((await exportIndex(build.bin, join(tmp, 'big.db'))) === (await exportIndex(build.bin, join(tmp, 'big-local.db')))).toBe(true);
      await w.kill('SIGTERM');
      expect((await w.done).code).toBe(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 900_000);
});
