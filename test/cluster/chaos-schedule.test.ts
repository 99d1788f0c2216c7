/**
 * A bounded chaos run: two runs at different priorities share the queue while a seeded schedule SIGKILLs and restarts
 * workers, coordinators (resumed by the same command) and Redis (AOF). Every run's export must equal its local-mode
 * export, and once all is done Redis holds none of the runs' data and is back to its baseline memory. CHAOS_SEED
 * picks the schedule, CHAOS_FAULTS its length, CHAOS_SCALE the size of the runs.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Prng } from '../../src/bench/prng.js';
import { EVENT_LOG_LEN } from '../../src/transport/redis/coordinator.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import { delay, exportIndex, killLeftoversAfterEach, localIndex, pythonTree, spawnCli, startSuite, startWorkerProc, stopSuite, type Build, type Proc } from './helpers.js';

const avail = redisAvailability();
const SEED = Number(process.env.CHAOS_SEED ?? 3);
const FAULTS = Number(process.env.CHAOS_FAULTS ?? 8);
/** How many copies of each run's tree it indexes (a longer run, more faults landing in it). */
const SCALE = Number(process.env.CHAOS_SCALE ?? 2);

describeWithRedis(avail, `a seeded fault schedule over two runs (seed ${SEED}, ${FAULTS} faults)`, () => {
  let build: Build;
  let server: RedisServer;
  let tmp: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('chaos-schedule'));
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('each export equals its local-mode export, and Redis keeps none of the runs', async () => {
    const ns = freshNamespace('sched');
    const r = new Prng(SEED);
    const runs = [
      { name: 'low', tree: join(tmp, 'low'), priority: 'low', bytes: 5_000_000 },
      { name: 'urgent', tree: join(tmp, 'urgent'), priority: 'urgent', bytes: 1_500_000 },
    ].map((x) => ({ ...x, out: join(tmp, `${x.name}.db`), proc: null as Proc | null, restarts: 0 }));
    for (const x of runs) {
      for (let i = 0; i < SCALE; i++) pythonTree(SCALE > 1 ? join(x.tree, `copy${i}`) : x.tree, { maxBytes: x.bytes, topLevelOnly: x.name === 'urgent' });
    }
    const workerArgs = ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--lock-ms', '4000'];
    const workers: Proc[] = [];
    const startWorker = async (i: number) => {
      const p = await startWorkerProc(build.bin, workerArgs, { name: `w${i}` });
      procs.push(p);
      workers[i] = p;
    };
    const startRun = (x: (typeof runs)[number]) => {
      x.proc = spawnCli(build.bin, [x.tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', x.out, '--priority', x.priority, '--batch-bytes', '32KiB', '--no-cache', '--progress', 'none', '--quiet'], { name: `coordinator ${x.name}`, timeoutMs: 600_000 });
      procs.push(x.proc);
    };
    const usedMemory = async () => {
      const c = new Redis(server.url());
      try {
        return Number(/used_memory:(\d+)/.exec(await c.info('memory'))?.[1]);
      } finally {
        c.disconnect();
      }
    };
    await startWorker(0);
    await startWorker(1);
    // The baseline is Redis after one run: BullMQ's scripts loaded, its queue's records and event stream in place.
    const warm = join(tmp, 'warm');
    pythonTree(warm, { maxBytes: 50_000, topLevelOnly: true });
    const w = spawnCli(build.bin, [warm, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', join(tmp, 'warm.db'), '--no-cache', '--progress', 'none', '--quiet'], { name: 'warm-up' });
    expect((await w.done).code).toBe(0);
    const baseline = await usedMemory();
    for (const x of runs) startRun(x);

    const injected: string[] = [];
    const started = Date.now();
    for (let f = 0; f < FAULTS; f++) {
      await delay(r.int(500, 1500));
      const live = runs.filter((x) => x.proc?.alive());
      if (live.length === 0) break;
      const kind = ['worker', 'coordinator', 'redis'][r.int(0, 2)];
      if (kind === 'worker') {
        const i = r.int(0, 1);
        await workers[i].kill('SIGKILL');
        await startWorker(i);
        injected.push(`worker w${i}`);
      } else if (kind === 'coordinator') {
        const x = live[r.int(0, live.length - 1)];
        await x.proc!.kill('SIGKILL');
        x.restarts++;
        startRun(x); // the same command resumes the run
        injected.push(`coordinator ${x.name}`);
      } else {
        await server.kill('SIGKILL');
        await server.restart();
        injected.push('redis');
      }
    }
    expect(injected.length, 'faults injected while the runs lasted').toBeGreaterThanOrEqual(3);
    console.info(`chaos seed ${SEED}: ${injected.length} faults in ${Math.round((Date.now() - started) / 1000)} s: ${injected.join(', ')}`);
    for (const x of runs) {
      let res = await x.proc!.done;
      // A coordinator that met Redis down at start-up exits 2 (one line): the operator runs it again, so does this.
      for (let tries = 0; res.code === 2 && tries < 3; tries++) {
        startRun(x);
        res = await x.proc!.done;
      }
      expect(res.code, `${x.name}: ${res.stderr.slice(-3000)}`).toBe(0);
      await localIndex(build.bin, x.tree, join(tmp, `${x.name}-local.db`));
      expect(await exportIndex(build.bin, x.out), x.name).toBe(await exportIndex(build.bin, join(tmp, `${x.name}-local.db`)));
    }
    for (const w of workers) await w.kill('SIGTERM');
    // Nothing of the runs stays: no blobs, results or run data, no job left in any state but completed.
    const redis = new Redis(server.url());
    try {
      const keys = await redis.keys(`${ns}:*`);
      expect(keys.filter((k) => /:(blob|result):/.test(k))).toEqual([]);
      // Run records stay for `runs list`, but expire.
      for (const k of keys.filter((k) => /:run:/.test(k))) expect(await redis.ttl(k), k).toBeGreaterThan(0);
      for (const state of ['wait', 'prioritized', 'active', 'delayed', 'failed']) {
        const key = `${ns}:batches:${state}`;
        const type = await redis.type(key);
        const n = type === 'zset' ? await redis.zcard(key) : type === 'list' ? await redis.llen(key) : 0;
        expect(n, state).toBe(0);
      }
      // Back to its baseline: the runs moved megabytes of content and results through Redis, and what is left of
      // them is their run records and the queue's bounded event stream.
      // BullMQ's event stream is trimmed in whole nodes of 100 entries.
      expect(await redis.xlen(`${ns}:batches:events`)).toBeLessThanOrEqual(EVENT_LOG_LEN + 100);
      let held = 0;
      for (const k of keys.filter((k) => !k.endsWith(':events'))) held += (await redis.memory('USAGE', k, 'SAMPLES', 0)) ?? 0;
      expect(held, `bytes held by ${keys.join(' ')}`).toBeLessThan(16 * 1024);
      const after = await usedMemory();
      expect(after - baseline, `used_memory ${baseline} before the runs, ${after} after`).toBeLessThan(1024 * 1024);
    } finally {
      redis.disconnect();
    }
  }, 900_000);
});
