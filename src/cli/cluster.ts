import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { workerArgv, type IndexOptions, type WorkerCaps } from '../config/options.js';
import type { PipelineEvent } from '../pipeline/events.js';
import type { RedisConnectOptions } from '../transport/redis/connection.js';
import { RedisTransport } from '../transport/redis/coordinator.js';
import { Keys } from '../transport/redis/keys.js';
import { recordRun, type RunInfo } from '../transport/redis/runs.js';
import { workerRows, type WorkerRow } from '../ops/heartbeats.js';
import { startWorker } from '../transport/redis/worker.js';
import { createLogger, type LogFormat } from '../util/log.js';
import { indexCommand, interruptController } from './index-command.js';
import { EXIT, UsageError } from '../errors.js';
import { DEFAULT_NAMESPACE } from '../config/option-table.js';

const BIN = fileURLToPath(new URL('../../bin/mcp-index.js', import.meta.url));

function connectOptions(url: string, tls: { ca?: string; cert?: string; key?: string }): RedisConnectOptions {
  return { url, tlsCa: tls.ca, tlsCert: tls.cert, tlsKey: tls.key };
}

/** Child worker processes for `--workers N`: same binary, one thread each, sharing this checkout. */
function spawnLocalWorkers(o: IndexOptions): ChildProcess[] {
  const children: ChildProcess[] = [];
  for (let i = 0; i < o.workers; i++) {
    // The run's limits are the workers' caps: a worker lowers a job's limits to its own.
    const caps = { maxFileBytes: o.maxFileBytes, parseTimeoutMs: o.parseTimeoutMs, maxMemoryBytes: o.maxMemoryBytes };
    const args = workerArgv({ redis: o.redis!, namespace: o.namespace, threads: 1, root: o.root, name: `local-${process.pid}-${i}`, tls: o.tls, caps });
    children.push(spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] }));
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
  const record = recordRun(redis, keys, o);
  let workerTimer: NodeJS.Timeout | null = null;
  try {
    const code = await indexCommand(o, async () => transport, {
      resumable: true,
      only,
      onEvent: (e: PipelineEvent) => {
        record.onEvent(e);
        // The summary is printed (or sent as --json) after this event: it carries the run's cache and blob counts too.
        if (e.type === 'done') {
          e.summary.cache = { ...transport.cacheCounters };
          e.summary.blobs = { ...transport.blobCounters };
        }
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
    record.stop();
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
  /** The worker's own caps, from its checked flags. */
  caps: WorkerCaps;
}): Promise<number> {
  if (!argv.redis) throw new UsageError('worker needs --redis URL');
  const log = createLogger(argv.logLevel ?? 'info', 'mcp-index-worker', argv.logFormat);
  // Metrics, /healthz, /readyz, and the link to an `up` supervisor (src/ops).
  const conn = connectOptions(argv.redis, { ca: argv.tlsCa, cert: argv.tlsCert, key: argv.tlsKey });
  const { startWorkerOps } = await import('../ops/worker-service.js');
  const ops = await startWorkerOps({ metricsPort: argv.metricsPort ?? 0, metricsHost: argv.metricsHost, supervised: argv.supervised, redis: conn, namespace: argv.namespace ?? DEFAULT_NAMESPACE, log });
  const w = await startWorker({
    ...conn,
    onEvent: ops.onEvent,
    namespace: argv.namespace ?? DEFAULT_NAMESPACE,
    threads: argv.threads ?? (await import('node:os')).availableParallelism(),
    root: argv.root,
    name: argv.name,
    lockMs: argv.lockMs,
    drainMs: argv.drainMs,
    caps: argv.caps,
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
  }).catch(async (err) => {
    await ops.close();
    throw err;
  });
  ops.started(w);
  const { signal, dispose } = interruptController();
  signal.addEventListener('abort', () => void w.close(), { once: true });
  const abandoned = await w.closed;
  dispose();
  await ops.close();
  // BullMQ may keep a timer or socket of a Redis that went away: the worker is done, so is the process.
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  return w.stats.overMemory ? EXIT.overMemory : abandoned > 0 ? EXIT.runFailed : EXIT.ok;
}

export interface ClusterStatus {
  namespace: string;
  queue: Record<string, number>;
  byPriority: Record<string, number>;
  /** Paused from the dashboard: workers take no new batch until it is resumed. */
  paused: boolean;
  workers: WorkerRow[];
  /** The shared result cache: entries and the bytes charged against its budget. */
  cache: { entries: number; bytes: number };
  /** Runs not finished: running, interrupted (resumable), failed or cancelled (see `mcp-index runs`). */
  runs: { runId: string; state: RunInfo['state']; root: string; priority: string; merged: number; total: number; startedAgoS: number; reason: string | null }[];
}

interface RedisArgv {
  redis: string;
  namespace?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * Checks the connection and rights once (writing nothing: it must work against a full Redis), then runs `fn` with a
 * client and a queue handle of the namespace, and closes both.
 */
async function withCluster<T>(argv: RedisArgv, fn: (c: { redis: Redis; queue: Queue; keys: Keys }) => Promise<T>): Promise<T> {
  const { preflight, createRedis } = await import('../transport/redis/connection.js');
  const { Queue } = await import('bullmq');
  const conn = connectOptions(argv.redis, { ca: argv.tlsCa, cert: argv.tlsCert, key: argv.tlsKey });
  const keys = new Keys(argv.namespace ?? DEFAULT_NAMESPACE);
  await preflight(conn, keys.ns);
  const redis = createRedis(conn);
  const queueConn = createRedis(conn);
  // skipMetasUpdate: a Queue otherwise writes its meta hash when it connects.
  const queue = new Queue(keys.queue, { connection: queueConn, prefix: keys.prefix, skipMetasUpdate: true });
  try {
    return await fn({ redis, queue, keys });
  } finally {
    await queue.close();
    queueConn.disconnect(); // BullMQ leaves a connection it was given open
    redis.disconnect();
  }
}

/** `mcp-index status --redis URL`: queue depth by state and priority, live workers, runs not finished. */
export function clusterStatus(argv: RedisArgv): Promise<ClusterStatus> {
  return withCluster(argv, async ({ redis, queue, keys }) => {
    const { queueDepth } = await import('../ops/dashboard/state.js');
    const { counts, byPriority, paused } = await queueDepth(queue);
    const workers = await workerRows(redis, keys);
    const { ResultCache } = await import('../transport/redis/cache.js');
    const cache = await new ResultCache(redis, keys).stats();
    const { listRuns } = await import('../transport/redis/runs.js');
    const runs = (await listRuns(redis, keys))
      .filter((r) => r.state !== 'done')
      .map((r) => ({ runId: r.runId, state: r.state, root: r.root, priority: r.priority, merged: r.merged, total: r.total, startedAgoS: Math.round((Date.now() - r.startedAt) / 1000), reason: r.reason }));
    return { namespace: keys.ns, queue: counts, byPriority, paused, workers, cache, runs };
  });
}

const ago = (ms: number) => (ms < 90_000 ? `${Math.round(ms / 1000)}s` : ms < 5_400_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 3_600_000)}h`);

/** `mcp-index runs list|cancel|purge --redis URL`: the runs Redis knows, and the clean-up of abandoned ones. */
export async function runsCommand(argv: RedisArgv & { action: string; runId?: string; olderThan?: number; json?: boolean }): Promise<number> {
  const runs = await import('../transport/redis/runs.js');
  const print = (json: unknown, text: string) => process.stdout.write((argv.json ? JSON.stringify(json) : text) + '\n');
  if (argv.action === 'cancel' && !argv.runId) throw new UsageError('runs cancel needs a run id (see `mcp-index runs list`)');
  if (argv.olderThan !== undefined && !(argv.olderThan >= 0)) throw new UsageError('--older-than must be a number of seconds >= 0');
  return withCluster(argv, async ({ redis, queue, keys }) => {
    if (argv.action === 'list') {
      const list = await runs.listRuns(redis, keys);
      const now = Date.now();
      const text = list.map(
        (r) =>
          `${r.runId} ${r.state.padEnd(11)} ${r.priority.padEnd(6)} ${r.merged}/${r.total} batches, started ${ago(now - r.startedAt)} ago, seen ${ago(now - r.seenAt)} ago on ${r.host}:${r.pid}, ${r.root}${r.reason ? `: ${r.reason}` : ''}`,
      );
      print(list, text.length ? text.join('\n') : `no runs in ${keys.ns}`);
      return 0;
    }
    if (argv.action === 'cancel') {
      const r = await runs.cancelRun(redis, queue, keys, argv.runId!);
      if (!r.found) throw new UsageError(`no run ${argv.runId} in ${keys.ns} (see \`mcp-index runs list\`)`);
      print(r, `cancelled run ${argv.runId}: removed ${r.jobs} jobs, ${r.blobs} blobs, ${r.results} results${r.busy ? `; ${r.busy} jobs held by a worker are left to finish (purge removes them)` : ''}`);
      return 0;
    }
    const r = await runs.purgeRuns(redis, queue, keys, { olderThanMs: (argv.olderThan ?? 600) * 1000 });
    print(r, `purged ${r.runs.length} runs: removed ${r.jobs} jobs, ${r.blobs} blobs, ${r.results} results${r.busy ? `; ${r.busy} jobs held by a worker are left to finish` : ''}`);
    return 0;
  });
}

export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.namespace}`];
  lines.push(`  queue:    ${s.paused ? 'PAUSED (resume it from the dashboard), ' : ''}${Object.entries(s.queue).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  waiting by priority: ${Object.entries(s.byPriority).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  workers:  ${s.workers.length} alive`);
  for (const w of s.workers) lines.push(`    ${w.id.padEnd(24)} ${w.host}:${w.pid} ${w.threads} threads, ${w.done} done, ${w.failed} failed, rss ${w.rssMb} MB, heartbeat ${(w.ageMs / 1000).toFixed(1)}s ago${w.run ? `, run ${w.run}` : ''}`);
  lines.push(`  cache:    ${s.cache.entries} results, ${(s.cache.bytes / 1024 / 1024).toFixed(1)} MiB`);
  lines.push(`  runs:     ${s.runs.length} not finished${s.runs.length ? ' (mcp-index runs list|cancel|purge)' : ''}`);
  for (const r of s.runs) lines.push(`    ${r.runId} ${r.state.padEnd(11)} ${r.priority.padEnd(6)} ${r.merged}/${r.total} batches, ${r.startedAgoS}s, ${r.root}${r.reason ? `: ${r.reason}` : ''}`);
  return lines.join('\n');
}
