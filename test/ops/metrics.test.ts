/**
 * Metrics and health of a real cluster run: a real redis-server, a CLI worker and a CLI coordinator, each serving
 * /metrics. The counters are scraped while the run goes on (they must move) and at its end (they must equal the
 * run's summary). The coordinator keeps serving after its run (--metrics-linger) for that last scrape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { cleanupTemp, pythonTree, readJson, snapshotBuild, spawnCli, tempDir, type Build, type Proc } from '../cluster/helpers.js';
import { freshNamespace, RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';
import { freePort, get, poll, scrape, sleep, value, type Sample } from './helpers.js';

const avail = redisAvailability();

describeWithRedis(avail, 'metrics of a real cluster run', () => {
  let build: Build;
  let server: RedisServer;
  let tree: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    build = await snapshotBuild();
    server = await RedisServer.start();
    tree = tempDir('ops-metrics-tree');
    pythonTree(tree, { maxBytes: 2_500_000, duplicates: 4 });
  }, 600_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await server?.stop();
    cleanupTemp();
  }, 120_000);

  it('counters move during the run and equal the summary at its end', async () => {
    const ns = freshNamespace('ops');
    const workerPort = await freePort();
    const coordPort = await freePort();
    const out = `${tempDir('ops-metrics-out')}/index.db`;

    const worker = spawnCli(
      build.bin,
      ['worker', '--redis', server.url(), '--namespace', ns, '--threads', '2', '--root', tree, '--name', 'metrics-w', '--log-level', 'info', '--metrics-port', String(workerPort), '--metrics-host', '127.0.0.1'],
      { name: 'worker' },
    );
    procs.push(worker);
    // Not ready until connected; then /readyz says so and /healthz is up.
    await poll(async () => (await get(workerPort, '/readyz'))?.status === 200, 'worker /readyz 200', 300_000);
    expect((await get(workerPort, '/healthz'))?.status).toBe(200);
    expect((await get(workerPort, '/readyz'))?.body).toMatch(/^ready: worker metrics-w connected, pool up/);

    const coord = spawnCli(
      build.bin,
      // --no-cache: the tree repeats files, which the result cache would answer without a job; here every count must
      // be one worker's parse of every planned file.
      [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-bytes', '64KiB', '--json', '--progress', 'none', '--no-cache',
        '--metrics-port', String(coordPort), '--metrics-host', '127.0.0.1', '--metrics-linger', '600', '--log-level', 'info'],
      { name: 'coordinator' },
    );
    procs.push(coord);

    // Scrape both sides until the summary is out.
    const coordSeen: number[] = [];
    const workerSeen: number[] = [];
    const backlogSeen: number[] = [];
    let readyDuringRun = false;
    let aliveDuringRun = 0;
    while (!coord.stdout().trim()) {
      if (!coord.alive()) throw new Error(`coordinator exited early; stderr:\n${coord.stderr().slice(-3000)}`);
      const [c, w] = await Promise.all([scrape(coordPort), scrape(workerPort)]);
      if (coord.stdout().trim()) break; // the run ended while scraping: those values may be final
      if (c) {
        coordSeen.push(value(c, 'mcp_index_files_indexed_total') ?? 0);
        aliveDuringRun = Math.max(aliveDuringRun, value(c, 'mcp_index_workers_alive') ?? 0);
        if ((value(c, 'mcp_index_jobs_enqueued_total') ?? 0) > 0) readyDuringRun ||= (await get(coordPort, '/readyz'))?.status === 200;
      }
      if (w) workerSeen.push(value(w, 'mcp_index_files_indexed_total') ?? 0);
      if (w) backlogSeen.push(value(w, 'mcp_index_queue_waiting_batches', { priority: 'normal' }) ?? 0);
      await sleep(150);
    }
    const summary = readJson<RunSummary>(coord.stdout());
    expect(summary.interrupted).toBe(false);
    expect(summary.run.batches).toBeGreaterThan(5);
    expect(summary.run.splits).toBe(0);

    // Final values (the coordinator lingers; the worker applies its last increments at once).
    const c = (await scrape(coordPort))!;
    expect(c).not.toBeNull();
    const w: Sample[] = await poll(async () => {
      const s = await scrape(workerPort);
      return s && value(s, 'mcp_index_jobs_finished_total', { outcome: 'done' }) === summary.run.batches ? s : undefined;
    }, `worker jobs_finished_total{outcome="done"} = ${summary.run.batches}`, 60_000);

    // They moved: some scrape during the run saw a count strictly between nothing and the total.
    const between = (xs: number[], total: number) => xs.some((x) => x > 0 && x < total);
    expect(between(coordSeen, summary.run.filesParsed) || between(workerSeen, summary.run.filesParsed), `coordinator saw ${coordSeen.join(',')}; worker saw ${workerSeen.join(',')}`).toBe(true);
    for (const xs of [coordSeen, workerSeen]) for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeGreaterThanOrEqual(xs[i - 1]);

    // Coordinator: everything from the pipeline's events equals the summary.
    expect(value(c, 'mcp_index_jobs_enqueued_total', { priority: 'normal' })).toBe(summary.run.batches);
    expect(value(c, 'mcp_index_jobs_finished_total', { priority: 'normal', outcome: 'done' })).toBe(summary.run.batches);
    expect(value(c, 'mcp_index_files_indexed_total')).toBe(summary.run.filesParsed);
    expect(value(c, 'mcp_index_bytes_indexed_total')).toBe(summary.run.bytesParsed);
    expect(value(c, 'mcp_index_symbols_total')).toBe(summary.index.symbols);
    expect(value(c, 'mcp_index_retries_total')).toBe(summary.run.retries);
    expect(value(c, 'mcp_index_stalls_total')).toBe(summary.run.stalls);
    expect(value(c, 'mcp_index_job_duration_seconds_count')).toBe(summary.run.batches);
    expect(value(c, 'mcp_index_runs_total', { outcome: 'ok' })).toBe(1);
    expect(value(c, 'mcp_index_batches_in_flight')).toBe(0);
    expect(value(c, 'process_cpu_seconds_total')).toBeGreaterThan(0); // default process metrics
    expect(aliveDuringRun).toBe(1);
    expect(readyDuringRun).toBe(true);
    expect((await get(coordPort, '/readyz'))?.status).toBe(503); // the run is over
    expect((await get(coordPort, '/healthz'))?.status).toBe(200);

    // Worker: the same totals from its side (one worker ran every batch; nothing was redelivered).
    const redelivered = summary.run.retries + summary.run.stalls;
    const check = (actual: number | null, expected: number) => (redelivered ? expect(actual).toBeGreaterThanOrEqual(expected) : expect(actual).toBe(expected));
    check(value(w, 'mcp_index_files_indexed_total'), summary.run.filesParsed);
    check(value(w, 'mcp_index_bytes_indexed_total'), summary.run.bytesParsed);
    check(value(w, 'mcp_index_symbols_total'), summary.index.symbols);
    check(value(w, 'mcp_index_jobs_started_total'), summary.run.batches);
    // The priority label comes from the run record.
    expect(value(w, 'mcp_index_jobs_finished_total', { priority: 'normal', outcome: 'done' })).toBe(summary.run.batches);
    check(value(w, 'mcp_index_queue_wait_seconds_count'), summary.run.batches);
    check(value(w, 'mcp_index_job_duration_seconds_count'), summary.run.batches);
    expect(value(w, 'mcp_index_jobs_active')).toBe(0);
    expect(value(w, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // A worker on its own reports the cluster: the backlog it worked through (0 at the end) and Redis's memory.
    expect(Math.max(...backlogSeen), `backlog seen: ${backlogSeen.join(',')}`).toBeGreaterThan(0);
    expect(Math.max(...backlogSeen)).toBeLessThanOrEqual(summary.run.batches);
    expect(value(w, 'mcp_index_queue_waiting_batches', { priority: 'normal' })).toBe(0);
    expect(value(w, 'mcp_index_redis_memory_used_bytes')).toBeGreaterThan(0);

    // No high-cardinality labels anywhere.
    for (const s of [...c, ...w]) {
      if (!s.name.startsWith('mcp_index_')) continue;
      for (const k of Object.keys(s.labels)) expect(['priority', 'outcome', 'role', 'le']).toContain(k);
    }

    // Logs are JSON lines on stderr (off a TTY); stdout has only the summary.
    const lines = worker.stderr().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(coord.stdout().trim().split('\n')).toHaveLength(1);
    expect(coord.stderr()).toMatch(/"msg":"run done"/);

    // SIGTERM ends the linger; SIGTERM drains and stops the worker.
    await coord.waitFor(/still serving \/metrics/, 60_000);
    coord.child.kill('SIGTERM');
    expect((await coord.done).code).toBe(0);
    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
  }, 900_000);
});
