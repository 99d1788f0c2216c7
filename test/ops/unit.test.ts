/** Small pieces of src/ops without Redis: backoff, typed run events, metrics bookkeeping, the HTTP server, logs. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOpsServer } from '../../src/ops/http.js';
import { createRegistry, WorkerMetrics } from '../../src/ops/metrics.js';
import { runEventTranslator, type IndexEvents } from '../../src/ops/run-events.js';
import { backoffMs } from '../../src/ops/supervisor.js';
import type { InFlight, PipelineEvent } from '../../src/pipeline/events.js';
import { cleanupTemp, snapshotBuild } from '../cluster/helpers.js';
import { get, parseProm, value } from './helpers.js';

afterAll(() => cleanupTemp());

describe('restart backoff', () => {
  it('doubles from the base per death in a row and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 1000, 30_000))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffMs(1000, 1000, 30_000)).toBe(30_000);
    expect(backoffMs(0, 500, 30_000)).toBe(500);
  });
});

describe('typed run events', () => {
  const batch = (slot: number, files: number): InFlight => ({ slot, batchId: `b${slot}`, files, bytes: files * 100, firstPath: 'a.py' });
  it('turns pipeline events into progress, batch-completed and batch-failed', () => {
    const got: Array<[keyof IndexEvents, unknown]> = [];
    const t = runEventTranslator((name, ...args) => got.push([name, args[0]]));
    const events: PipelineEvent[] = [
      { type: 'phase', phase: 'index' },
      { type: 'planned', runId: 'r', batches: 2, files: 5, bytes: 500, reused: 0 },
      { type: 'batch-start', batch: batch(0, 4) },
      { type: 'batch-start', batch: batch(1, 1) },
      { type: 'batch-done', batch: batch(0, 4), symbols: 9, errors: 1, fileErrors: [{ path: 'a.py', code: 'syntax', message: 'syntax error at 1:1' }], worker: 'h:1/2', durationMs: 12 },
      { type: 'batch-failed', batch: batch(1, 1), error: 'boom', action: 'file-error' },
    ];
    for (const e of events) t(e);
    expect(got.filter(([n]) => n === 'event')).toHaveLength(events.length);
    expect(got.find(([n]) => n === 'batch-completed')?.[1]).toEqual({ batchId: 'b0', files: 4, bytes: 400, symbols: 9, errors: 1, worker: 'h:1/2', durationMs: 12 });
    expect(got.find(([n]) => n === 'batch-failed')?.[1]).toEqual({ batchId: 'b1', files: 1, bytes: 100, error: 'boom', action: 'file-error' });
    const last = got.filter(([n]) => n === 'progress').pop()?.[1];
    expect(last).toEqual({ phase: 'index', filesTotal: 5, filesDone: 5, bytesTotal: 500, bytesDone: 500, batchesTotal: 2, batchesDone: 2, inFlight: 0, symbols: 9, errors: 2 });
  });
});

describe('worker metrics', () => {
  it('labels finished batches with the run priority, and tracks batches in progress', async () => {
    const registry = createRegistry('worker', { defaultMetrics: false });
    const m = new WorkerMetrics(registry, async (runId) => (runId === 'r1' ? 'urgent' : 'unknown'));
    m.onEvent({ type: 'job-start', jobId: 'j1', runId: 'r1', files: 3, queueWaitMs: 250 });
    m.onEvent({ type: 'job-start', jobId: 'j2', runId: 'r1', files: 2, queueWaitMs: 10 });
    let s = parseProm(await registry.metrics());
    expect(value(s, 'mcp_index_jobs_active')).toBe(2);
    m.onEvent({ type: 'job-done', jobId: 'j1', runId: 'r1', files: 3, bytes: 300, symbols: 7, durationMs: 1500 });
    m.onEvent({ type: 'job-failed', jobId: 'j2', reason: 'released at shutdown', outcome: 'released' });
    m.onEvent({ type: 'job-failed', jobId: 'bad', reason: 'malformed', outcome: 'rejected' });
    await m.settled();
    s = parseProm(await registry.metrics());
    expect(value(s, 'mcp_index_jobs_active')).toBe(0);
    expect(value(s, 'mcp_index_jobs_finished_total', { priority: 'urgent', outcome: 'done' })).toBe(1);
    expect(value(s, 'mcp_index_jobs_finished_total', { priority: 'urgent', outcome: 'released' })).toBe(1);
    expect(value(s, 'mcp_index_jobs_finished_total', { priority: 'unknown', outcome: 'rejected' })).toBe(1);
    expect(value(s, 'mcp_index_files_indexed_total')).toBe(3);
    expect(value(s, 'mcp_index_queue_wait_seconds_count')).toBe(2);
    expect(value(s, 'mcp_index_queue_wait_seconds_bucket', { le: '0.25' })).toBe(2);
    expect(value(s, 'mcp_index_job_duration_seconds_sum')).toBe(1.5);
    expect(s.every((x) => x.labels.role === 'worker')).toBe(true);
  });
});

describe('ops HTTP server', () => {
  it('answers /healthz, /readyz with the reason, /metrics, /status; 404 and 405 otherwise', async () => {
    let ready = { ready: false, reason: 'starting' };
    const registry = createRegistry('coordinator');
    const srv = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      readiness: () => ready,
      metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
      status: () => ({ hello: 1 }),
    });
    try {
      expect(await get(srv.port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect(await get(srv.port, '/readyz')).toEqual({ status: 503, body: 'not ready: starting\n' });
      ready = { ready: true, reason: 'running' };
      expect(await get(srv.port, '/readyz')).toEqual({ status: 200, body: 'ready: running\n' });
      const m = await get(srv.port, '/metrics');
      expect(m?.status).toBe(200);
      expect(value(parseProm(m!.body), 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(JSON.parse((await get(srv.port, '/status'))!.body)).toEqual({ hello: 1 });
      expect((await get(srv.port, '/nope'))?.status).toBe(404);
      const post = await fetch(`http://127.0.0.1:${srv.port}/healthz`, { method: 'POST' });
      expect(post.status).toBe(405);
    } finally {
      await srv.close();
    }
  });

  it('a port in use is a one-line usage error', async () => {
    const a = await startOpsServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true, reason: '' }), metrics: async () => ({ contentType: 'text/plain', body: '' }) });
    try {
      await expect(startOpsServer({ port: a.port, host: '127.0.0.1', readiness: () => ({ ready: true, reason: '' }), metrics: async () => ({ contentType: 'text/plain', body: '' }) })).rejects.toThrow(/port already in use/);
    } finally {
      await a.close();
    }
  });
});

describe('logs', () => {
  it('JSON lines off a TTY, readable lines when pretty, always on stderr', async () => {
    const build = await snapshotBuild();
    const run = (format: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', `const { createLogger } = await import(${JSON.stringify(join(build.dir, 'dist/util/log.js'))}); createLogger('info', 'probe', ${JSON.stringify(format)}).info({ n: 1 }, 'hello there');`], {
        encoding: 'utf8',
      });
    const json = run('auto');
    expect(json.status, json.stderr).toBe(0);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr.trim())).toMatchObject({ level: 30, name: 'probe', msg: 'hello there', n: 1 });
    const pretty = run('pretty');
    expect(pretty.status, pretty.stderr).toBe(0);
    expect(pretty.stdout).toBe('');
    expect(pretty.stderr).toMatch(/INFO.*\(probe\/\d+\): hello there/);
    expect(pretty.stderr).toMatch(/n: 1/);
    expect(() => JSON.parse(pretty.stderr.trim())).toThrow();
  }, 300_000);
});

