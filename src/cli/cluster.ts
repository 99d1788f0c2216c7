import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { IndexOptions } from '../config/options.js';
import { UsageError } from '../config/options.js';
import type { PipelineEvent } from '../pipeline/events.js';
import type { RedisConnectOptions } from '../transport/redis/connection.js';
import { RedisTransport } from '../transport/redis/coordinator.js';
import { Keys } from '../transport/redis/keys.js';
import { workerRows, type WorkerRow } from '../ops/heartbeats.js';
import { startWorker } from '../transport/redis/worker.js';
import { createLogger, type LogFormat } from '../util/log.js';
import { indexCommand, interruptController } from './index-command.js';

export { CLUSTER_KEYS, clusterFlags, redisFlags } from './cluster-flags.js';

const BIN = fileURLToPath(new URL('../../bin/mcp-index.js', import.meta.url));

function connectOptions(url: string, tls: { ca?: string; cert?: string; key?: string }): RedisConnectOptions {
  return { url, tlsCa: tls.ca, tlsCert: tls.cert, tlsKey: tls.key };
}

/** Keeps the run record that `mcp-index status --redis` reads. Informative only: a failed write never stops a run. */
export function runRecord(redis: Redis, keys: Keys, o: IndexOptions): (e: PipelineEvent) => void {
  let runId = '';
  return (e) => {
    if (e.type === 'planned') {
      runId = e.runId;
      void redis
        .multi()
        .hset(keys.run(runId), { root: o.root, priority: o.priority, total: String(e.batches), started: String(Date.now()), host: process.pid })
        .sadd(keys.runs, runId)
        .exec()
        .catch(() => {});
    } else if (e.type === 'batch-done' && runId) {
      void redis.hincrby(keys.run(runId), 'merged', 1).catch(() => {});
    } else if (e.type === 'done' && runId) {
      void redis.multi().srem(keys.runs, runId).pexpire(keys.run(runId), 3600_000).exec().catch(() => {});
    }
  };
}

/** Child worker processes for `--workers N`: same binary, one thread each, sharing this checkout. */
function spawnLocalWorkers(o: IndexOptions): ChildProcess[] {
  const children: ChildProcess[] = [];
  for (let i = 0; i < o.workers; i++) {
    const args = [BIN, 'worker', '--redis', o.redis!, '--namespace', o.namespace, '--threads', '1', '--root', o.root, '--name', `local-${process.pid}-${i}`];
    if (o.tls.ca) args.push('--tls-ca', o.tls.ca);
    if (o.tls.cert) args.push('--tls-cert', o.tls.cert);
    if (o.tls.key) args.push('--tls-key', o.tls.key);
    children.push(spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] }));
  }
  return children;
}

/** `mcp-index <repo> --cluster --redis URL`: the local pipeline with the Redis transport. */
export async function clusterIndexCommand(o: IndexOptions, only: ReadonlySet<string> | null = null, onEvent?: (e: PipelineEvent) => void): Promise<number> {
  if (!o.redis) throw new UsageError('--cluster needs --redis URL');
  const conn = connectOptions(o.redis, o.tls);
  const keys = new Keys(o.namespace);
  const transport = await RedisTransport.create({ ...conn, namespace: o.namespace, root: o.root, window: o.window, cacheBytes: o.cacheBytes });
  const children = spawnLocalWorkers(o);
  const redis = transport.redis;
  const record = runRecord(redis, keys, o);
  let workerTimer: NodeJS.Timeout | null = null;
  try {
    const code = await indexCommand(o, async () => transport, {
      resumable: true,
      only,
      onEvent: (e: PipelineEvent) => {
        record(e);
        // The summary is printed (or sent as --json) after this event: it carries the run's cache counts too.
        if (e.type === 'done') e.summary.cache = { ...transport.cacheCounters };
        onEvent?.(e); // metrics, logs (src/ops)
      },
      onRenderer: (r) => {
        const refresh = async () => {
          const rows = await workerRows(redis, keys).catch(() => []);
          r.setWorkers?.(rows.map((w) => `worker ${w.id}: ${w.threads} threads, ${w.done} done, ${w.failed} failed, rss ${w.rssMb} MB, beat ${w.ageMs} ms ago`));
        };
        workerTimer = setInterval(() => void refresh(), 1000);
        workerTimer.unref();
      },
    });
    const c = transport.cacheCounters;
    if (!o.quiet && !o.json) process.stderr.write(c.enabled ? `  cache:    ${c.hits} files from the shared result cache, ${c.misses} parsed by workers\n` : '  cache:    off\n');
    return code;
  } finally {
    if (workerTimer) clearInterval(workerTimer);
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  }
}

/** `mcp-index worker --redis URL`: a long-running process that pulls batches until SIGTERM/SIGINT. */
export async function workerCommand(argv: {
  redis?: string;
  namespace?: string;
  threads?: number;
  root?: string;
  name?: string;
  lockMs?: number;
  drainMs?: number;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  logFormat?: LogFormat;
  metricsPort?: number;
  metricsHost?: string;
  supervised?: boolean;
}): Promise<number> {
  if (!argv.redis) throw new UsageError('worker needs --redis URL');
  const log = createLogger(argv.logLevel ?? 'info', 'mcp-index-worker', argv.logFormat);
  // Metrics, /healthz, /readyz, and the link to an `up` supervisor (src/ops).
  const conn = connectOptions(argv.redis, { ca: argv.tlsCa, cert: argv.tlsCert, key: argv.tlsKey });
  const { startWorkerOps } = await import('../ops/worker-service.js');
  const ops = await startWorkerOps({ metricsPort: argv.metricsPort ?? 0, metricsHost: argv.metricsHost, supervised: argv.supervised, redis: conn, namespace: argv.namespace ?? 'mcp-index', log });
  const w = await startWorker({
    ...conn,
    onEvent: ops.onEvent,
    namespace: argv.namespace ?? 'mcp-index',
    threads: argv.threads ?? (await import('node:os')).availableParallelism(),
    root: argv.root,
    name: argv.name,
    lockMs: argv.lockMs,
    drainMs: argv.drainMs,
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
  }).catch(async (err) => {
    await ops.close();
    throw err;
  });
  ops.started(w);
  const { signal, dispose } = interruptController();
  signal.addEventListener('abort', () => void w.close(), { once: true });
  await w.closed;
  dispose();
  await ops.close();
  return 0;
}

export interface ClusterStatus {
  namespace: string;
  queue: Record<string, number>;
  byPriority: Record<string, number>;
  workers: WorkerRow[];
  /** The shared result cache: entries and the bytes charged against its budget. */
  cache: { entries: number; bytes: number };
  runs: { runId: string; root: string; priority: string; merged: number; total: number; startedAgoS: number }[];
}

/** `mcp-index status --redis URL`: queue depth by state and priority, live workers, runs in progress. */
export async function clusterStatus(argv: { redis: string; namespace?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string }): Promise<ClusterStatus> {
  const { preflight } = await import('../transport/redis/connection.js');
  const { Queue } = await import('bullmq');
  const { createRedis } = await import('../transport/redis/connection.js');
  const conn = connectOptions(argv.redis, { ca: argv.tlsCa, cert: argv.tlsCert, key: argv.tlsKey });
  const ns = argv.namespace ?? 'mcp-index';
  await preflight(conn, ns);
  const keys = new Keys(ns);
  const redis = createRedis(conn);
  const queueConn = createRedis(conn);
  const queue = new Queue(keys.queue, { connection: queueConn, prefix: keys.prefix });
  try {
    const queueCounts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
    const ranks = Object.entries({ urgent: 1, high: 2, normal: 3, low: 4 });
    const perPriority = await queue.getCountsPerPriority(ranks.map(([, r]) => r));
    const byPriority = Object.fromEntries(ranks.map(([name, r]) => [name, perPriority[String(r)] ?? 0]));
    const workers = await workerRows(redis, keys);
    const { ResultCache } = await import('../transport/redis/cache.js');
    const cache = await new ResultCache(redis, keys).stats();
    const runs = [];
    for (const runId of await redis.smembers(keys.runs)) {
      const h = await redis.hgetall(keys.run(runId));
      runs.push({
        runId,
        root: h.root ?? '?',
        priority: h.priority ?? '?',
        merged: Number(h.merged ?? 0),
        total: Number(h.total ?? 0),
        startedAgoS: Math.round((Date.now() - Number(h.started ?? Date.now())) / 1000),
      });
    }
    return { namespace: ns, queue: queueCounts, byPriority, workers, cache, runs };
  } finally {
    await queue.close();
    queueConn.disconnect(); // BullMQ leaves a connection it was given open
    redis.disconnect();
  }
}

export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.namespace}`];
  lines.push(`  queue:    ${Object.entries(s.queue).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  waiting by priority: ${Object.entries(s.byPriority).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  workers:  ${s.workers.length} alive`);
  for (const w of s.workers) lines.push(`    ${w.id.padEnd(24)} ${w.host}:${w.pid} ${w.threads} threads, ${w.done} done, ${w.failed} failed, rss ${w.rssMb} MB, heartbeat ${(w.ageMs / 1000).toFixed(1)}s ago${w.run ? `, run ${w.run}` : ''}`);
  lines.push(`  cache:    ${s.cache.entries} results, ${(s.cache.bytes / 1024 / 1024).toFixed(1)} MiB`);
  lines.push(`  runs:     ${s.runs.length} in progress`);
  for (const r of s.runs) lines.push(`    ${r.runId} ${r.priority.padEnd(6)} ${r.merged}/${r.total} batches, ${r.startedAgoS}s, ${r.root}`);
  return lines.join('\n');
}
