/**
 * `mcp-index up` with real processes: a real redis-server, the supervisor with two worker children, a CLI
 * coordinator run through them, a child SIGKILLed (a new one takes its slot and heartbeats), and a clean SIGTERM
 * shutdown of the whole set. With --dashboard-port it serves the dashboard, and a child drained from it stays down.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { cleanupTemp, pythonTree, readJson, snapshotBuild, spawnCli, tempDir, type Build, type Proc } from '../cluster/helpers.js';
import { freshNamespace, RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';
import { freePort, get, pidAlive, poll, scrape, sleep, value } from './helpers.js';

const avail = redisAvailability();

interface SlotStatus {
  slot: number;
  name: string;
  pid: number | null;
  state: string;
  restarts: number;
}

describeWithRedis(avail, 'mcp-index up', () => {
  let build: Build;
  let server: RedisServer;
  let redis: Redis;
  const procs: Proc[] = [];

  beforeAll(async () => {
    build = await snapshotBuild();
    server = await RedisServer.start();
    redis = new Redis(server.url());
  }, 600_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    redis?.disconnect();
    await server?.stop();
    cleanupTemp();
  }, 120_000);

  it('runs N workers, serves a coordinator run, restarts a killed worker, and drains all on SIGTERM', async () => {
    const ns = freshNamespace('up');
    const tree = tempDir('ops-up-tree');
    const made = pythonTree(tree, { maxBytes: 1_200_000, duplicates: 3 });
    const port = await freePort();
    const up = spawnCli(
      build.bin,
      ['up', '--workers', '2', '--redis', server.url(), '--namespace', ns, '--root', tree, '--threads-per-worker', '1', '--name', 'upt',
        '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--restart-delay-ms', '200', '--log-level', 'info'],
      { name: 'up' },
    );
    procs.push(up);
    const status = async () => {
      const r = await get(port, '/status');
      return r ? (JSON.parse(r.body) as { slots: SlotStatus[] }).slots : null;
    };
    const heartbeatPid = async (name: string) => Number((await redis.hget(`${ns}:worker:${name}`, 'pid')) ?? 0);

    // Both children connected: ready, and heartbeating under their slot names.
    const ready = await poll(async () => {
      if (!up.alive()) throw new Error(`up exited; stderr:\n${up.stderr()}`);
      const r = await get(port, '/readyz');
      return r?.status === 200 && r.body.includes('2/2') ? r : undefined;
    }, 'up /readyz with 2/2 workers', 300_000);
    expect(ready.body).toMatch(/^ready: 2\/2 worker processes ready/);
    const before = (await status())!;
    expect(before.map((s) => s.name)).toEqual(['upt-0', 'upt-1']);
    for (const s of before) {
      expect(s.state).toBe('ready');
      expect(s.pid).not.toBe(up.child.pid);
      expect(await heartbeatPid(s.name)).toBe(s.pid);
    }

    // A coordinator run served by the supervised workers.
    const out = `${tempDir('ops-up-out')}/index.db`;
    // --no-cache: repeated files answered by the result cache would make the workers' counts smaller than the plan's.
    const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-bytes', '32KiB', '--json', '--progress', 'none', '--no-cache'], { name: 'coordinator' });
    procs.push(coord);
    const cr = await coord.done;
    expect(cr.code, cr.stderr).toBe(0);
    const summary = readJson<RunSummary>(cr.stdout);
    expect(summary.index.files).toBe(made.files);

    // /metrics: the supervisor's own series and its children's, aggregated.
    const m = await poll(async () => {
      const s = await scrape(port);
      return s && value(s, 'mcp_index_jobs_finished_total', { role: 'worker', outcome: 'done' }) === summary.run.batches ? s : undefined;
    }, `aggregated jobs_finished_total = ${summary.run.batches}`, 60_000);
    expect(value(m, 'mcp_index_files_indexed_total', { role: 'worker' })).toBe(summary.run.filesParsed);
    expect(value(m, 'mcp_index_workers_alive', { role: 'supervisor' })).toBe(2);
    expect(value(m, 'mcp_index_workers_desired', { role: 'supervisor' })).toBe(2);
    expect(value(m, 'mcp_index_worker_restarts_total', { role: 'supervisor' })).toBe(0);
    // Each child's memory on its own (the summed process series would hide one that leaks).
    for (const slot of ['0', '1']) expect(value(m, 'mcp_index_worker_resident_memory_bytes', { slot }), `slot ${slot}`).toBeGreaterThan(10e6);
    // The cluster as a whole: the backlog by priority (all taken now) and Redis's memory.
    for (const priority of ['urgent', 'high', 'normal', 'low']) expect(value(m, 'mcp_index_queue_waiting_batches', { priority }), priority).toBe(0);
    expect(value(m, 'mcp_index_redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(value(m, 'mcp_index_redis_memory_max_bytes')).not.toBeNull();

    // SIGKILL one child: the slot gets a new process, which heartbeats under the same name.
    const victim = before[0];
    process.kill(victim.pid!, 'SIGKILL');
    const replaced = await poll(async () => {
      const s = (await status())?.[0];
      return s && s.pid !== null && s.pid !== victim.pid && s.state === 'ready' ? s : undefined;
    }, 'a new worker in slot 0', 300_000);
    expect(replaced.restarts).toBe(1);
    expect(pidAlive(replaced.pid!)).toBe(true);
    expect(pidAlive(victim.pid!)).toBe(false);
    await poll(async () => (await heartbeatPid('upt-0')) === replaced.pid, 'heartbeat of the new worker', 60_000);
    expect((await status())![1].pid).toBe(before[1].pid); // the other child was left alone
    const after = (await scrape(port))!;
    expect(value(after, 'mcp_index_worker_restarts_total')).toBe(1);
    // The killed child's counts are kept: totals never go backwards across a restart.
    expect(value(after, 'mcp_index_jobs_finished_total', { role: 'worker', outcome: 'done' })).toBe(summary.run.batches);
    expect(value(after, 'mcp_index_files_indexed_total', { role: 'worker' })).toBe(summary.run.filesParsed);
    expect(up.stderr()).toMatch(/"msg":"worker process died: restarting"/);

    // SIGTERM: every child drains and exits, then the supervisor; the heartbeats are withdrawn.
    const pids = [replaced.pid!, before[1].pid!];
    up.child.kill('SIGTERM');
    const ur = await up.done;
    expect(ur.code, ur.stderr).toBe(0);
    expect(ur.stderr).toMatch(/"msg":"all workers stopped"/);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(await redis.exists(`${ns}:worker:upt-0`, `${ns}:worker:upt-1`)).toBe(0);
  }, 900_000);

  it('serves the dashboard (--dashboard-port); a worker drained from it exits and is not restarted', async () => {
    const ns = freshNamespace('up-dash');
    const [port, dashPort] = [await freePort(), await freePort()];
    const up = spawnCli(
      build.bin,
      ['up', '--workers', '2', '--redis', server.url(), '--namespace', ns, '--name', 'upd', '--metrics-port', String(port), '--metrics-host', '127.0.0.1',
        '--dashboard-port', String(dashPort), '--restart-delay-ms', '200', '--log-level', 'info', '--log-format', 'json'],
      { name: 'up' },
    );
    procs.push(up);
    const status = async () => {
      const r = await get(port, '/status');
      return r ? (JSON.parse(r.body) as { slots: SlotStatus[] }).slots : null;
    };
    type Snapshot = { workers: { id: string; status: string }[] };
    const alive = await poll(async () => {
      if (!up.alive()) throw new Error(`up exited; stderr:\n${up.stderr()}`);
      const r = await get(dashPort, '/api/state');
      const s = r?.status === 200 ? (JSON.parse(r.body) as { snapshot: Snapshot }).snapshot : null;
      return s && s.workers.filter((w) => w.status === 'alive').length === 2 ? s : undefined;
    }, "up's dashboard listing both workers", 300_000);
    expect(alive.workers.map((w) => w.id)).toEqual(['upd-0', 'upd-1']);
    const pid = (await status())![1].pid!;

    const drain = await fetch(`http://127.0.0.1:${dashPort}/api/workers/upd-1/drain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(drain.status).toBe(200);
    const drained = await poll(async () => {
      const s = await status();
      return s?.[1].state === 'drained' ? s : undefined;
    }, 'slot 1 drained', 60_000);
    expect(drained[1].pid).toBeNull();
    expect(pidAlive(pid)).toBe(false);
    await sleep(2000); // ten times the restart delay
    const later = (await status())!;
    expect(later[1]).toMatchObject({ state: 'drained', pid: null, restarts: 0 });
    expect(later[0].state).toBe('ready');
    expect(up.stderr()).toMatch(/"msg":"worker drained on request: not restarted"/);
    expect((await get(port, '/readyz'))?.body).toMatch(/^ready: 1\/2 worker processes ready/);

    up.child.kill('SIGTERM');
    const ur = await up.done;
    expect(ur.code, ur.stderr).toBe(0);
    expect(await get(dashPort, '/healthz')).toBeNull(); // the dashboard went with it
  }, 600_000);

  it('/readyz turns 503 while Redis is down, naming it, and 200 again once it is back', async () => {
    const own = await RedisServer.start(); // its own server: killed here
    const port = await freePort();
    const up = spawnCli(build.bin, ['up', '--workers', '1', '--redis', own.url(), '--namespace', freshNamespace('upr'), '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--log-level', 'info'], { name: 'up' });
    procs.push(up);
    try {
      await poll(async () => (await get(port, '/readyz'))?.status === 200, 'up ready', 300_000);
      await own.kill('SIGKILL');
      const down = await poll(async () => {
        const r = await get(port, '/readyz');
        return r?.status === 503 ? r : undefined;
      }, '/readyz 503 with Redis down', 60_000);
      expect(down.body).toMatch(/Redis: /);
      await own.restart();
      await poll(async () => (await get(port, '/readyz'))?.status === 200, '/readyz 200 with Redis back', 120_000);
      await up.kill('SIGTERM');
    } finally {
      await own.stop();
    }
  }, 600_000);
});
