/**
 * Health endpoints with real processes and a real redis-server:
 * - a CLI worker in the middle of a long batch gets SIGTERM: /readyz turns 503 (draining) at once while /healthz
 *   stays 200, the batch still finishes, and the worker exits 0;
 * - in-process (the snapshot's modules): /readyz follows Redis (503 while it is down, 200 when back) and says
 *   "stopped" once the worker has stopped.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import type * as WorkerService from '../../src/ops/worker-service.js';
import type * as RedisWorker from '../../src/transport/redis/worker.js';
import { cleanupTemp, pythonTree, readJson, snapshotBuild, spawnCli, tempDir, type Build, type Proc } from '../cluster/helpers.js';
import { freshNamespace, RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';
import { freePort, get, poll, scrape, value } from './helpers.js';

const avail = redisAvailability();

describeWithRedis(avail, '/healthz and /readyz', () => {
  let build: Build;
  let server: RedisServer;
  const procs: Proc[] = [];

  beforeAll(async () => {
    build = await snapshotBuild();
    server = await RedisServer.start();
  }, 600_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await server?.stop();
    cleanupTemp();
  }, 120_000);

  it('a worker turns not-ready while it drains a long batch after SIGTERM, finishes it, and exits 0', async () => {
    const ns = freshNamespace('drain');
    // One big batch: the standard library twice over (about 9 MB of Python), parsed on one thread.
    const tree = tempDir('ops-drain-tree');
    const a = pythonTree(join(tree, 'a'), { maxBytes: 6_000_000 });
    const b = pythonTree(join(tree, 'b'), { maxBytes: 6_000_000 });
    const port = await freePort();
    const worker = spawnCli(
      build.bin,
      ['worker', '--redis', server.url(), '--namespace', ns, '--threads', '1', '--root', tree, '--name', 'drainer', '--drain-ms', '900000',
        '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--log-level', 'info'],
      { name: 'worker' },
    );
    procs.push(worker);
    await poll(async () => (await get(port, '/readyz'))?.status === 200, 'worker ready', 300_000);

    const coord = spawnCli(
      build.bin,
      [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', join(tempDir('ops-drain-out'), 'index.db'),
        '--batch-bytes', '64MiB', '--batch-files', '100000', '--json', '--progress', 'none'],
      { name: 'coordinator' },
    );
    procs.push(coord);

    // The batch has started on the worker: ask it to stop.
    await poll(async () => {
      if (!coord.alive()) throw new Error(`coordinator exited; stderr:\n${coord.stderr()}`);
      const m = await scrape(port);
      return m !== null && value(m, 'mcp_index_jobs_active') === 1;
    }, 'the batch to start', 300_000, 50);
    worker.child.kill('SIGTERM');

    // Draining: not ready (with the reason), still alive, and still in the middle of the batch.
    const r = await poll(async () => {
      const x = await get(port, '/readyz');
      if (x === null) throw new Error(`worker stopped answering before it was seen draining; stderr:\n${worker.stderr()}`);
      return x.status === 503 ? x : undefined;
    }, '/readyz 503', 60_000, 50);
    expect(r.body).toMatch(/^not ready: draining/);
    expect((await get(port, '/healthz'))?.status).toBe(200);
    const m = (await scrape(port))!;
    expect(value(m, 'mcp_index_worker_draining')).toBe(1);
    expect(worker.alive()).toBe(true);

    // Not ready for the rest of its life.
    let sawReady = false;
    while (worker.alive()) {
      const x = await get(port, '/readyz', 5000);
      if (x?.status === 200) sawReady = true;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(sawReady).toBe(false);
    const wr = await worker.done;
    expect(wr.code, wr.stderr).toBe(0);
    const stopped = wr.stderr.split('\n').find((l) => l.includes('"msg":"worker stopped"'));
    expect(stopped, wr.stderr).toBeDefined();
    expect(JSON.parse(stopped!)).toMatchObject({ done: 1, released: 0 });

    // The drained batch was finished, not dropped: the run completes with every file.
    const cr = await coord.done;
    expect(cr.code, cr.stderr).toBe(0);
    const summary = readJson<RunSummary>(cr.stdout);
    expect(summary.run.batches).toBe(1);
    expect(summary.index.files).toBe(a.files + b.files);
    expect(summary.run.retries + summary.run.stalls).toBe(0);
  }, 900_000);

  it('in process: /readyz follows Redis and reports "stopped" after the worker stops', async () => {
    const { startWorkerOps } = await build.load<typeof WorkerService>('ops/worker-service.js');
    const { startWorker } = await build.load<typeof RedisWorker>('transport/redis/worker.js');
    const ns = freshNamespace('ready');
    const port = await freePort();
    const conn = { url: server.url() };
    const ops = await startWorkerOps({ metricsPort: port, metricsHost: '127.0.0.1', redis: conn, namespace: ns });
    try {
      expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: expect.stringMatching(/^not ready: starting/) });
      const w = await startWorker({ ...conn, namespace: ns, threads: 1, onEvent: ops.onEvent });
      ops.started(w);
      expect(await get(port, '/readyz')).toMatchObject({ status: 200 });

      await server.kill('SIGKILL');
      const down = await poll(async () => {
        const x = await get(port, '/readyz');
        return x?.status === 503 ? x : undefined;
      }, '/readyz 503 with Redis down', 60_000);
      expect(down.body).toMatch(/^not ready: Redis unreachable/);
      expect((await get(port, '/healthz'))?.status).toBe(200);

      await server.restart();
      await poll(async () => (await get(port, '/readyz'))?.status === 200, '/readyz 200 with Redis back', 120_000);

      await w.close();
      expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: expect.stringMatching(/^not ready: stopped/) });
    } finally {
      await ops.close();
    }
    expect(await get(port, '/healthz', 2000)).toBeNull(); // the server is gone
  }, 600_000);
});
