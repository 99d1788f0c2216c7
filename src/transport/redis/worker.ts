import { readFile } from 'node:fs/promises';
import { hostname, loadavg } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { sha1 } from '../../plan/hash.js';
import { describeInvalid, JobRequestSchema } from '../../protocol/schema.js';
import type { JobRequest } from '../../protocol/types.js';
import type { ThreadResult } from '../../worker/thread.js';
import { safeJoin } from '../../worker/handle-job.js';
import { LocalTransport } from '../local.js';
import { ResultCache } from './cache.js';
import { createRedis, preflight, type RedisConnectOptions } from './connection.js';
import { Keys } from './keys.js';

export interface WorkerOptions extends RedisConnectOptions {
  namespace: string;
  threads: number;
  /** A checkout of the same repository: files whose hash matches are read here instead of fetched. */
  root?: string;
  name?: string;
  /** Lease length: a worker that stops renewing (killed, host lost) loses its batches after this long. */
  lockMs?: number;
  /** How long shutdown waits for in-flight batches before giving them back between two files. */
  drainMs?: number;
  /** Hard cap on one blob, whatever a message claims. */
  maxBlobBytes?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** Typed events for metrics and embedders. */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'job-start'; jobId: string; runId: string; files: number; queueWaitMs: number }
  | {
      type: 'job-done';
      jobId: string;
      runId: string;
      files: number;
      bytes: number;
      symbols: number;
      durationMs: number;
      /** Results put in the shared result cache, and entries that made room for them (absent: cache off). */
      cache?: { stored: number; evicted: number };
    }
  | { type: 'job-failed'; jobId: string; reason: string; outcome: 'failed' | 'rejected' | 'released' }
  | { type: 'draining' }
  | { type: 'stopped' };

export interface WorkerStats {
  done: number;
  failed: number;
  rejected: number;
  released: number;
  currentRun: string | null;
}

export interface RunningWorker {
  readonly id: string;
  readonly stats: WorkerStats;
  /** Stops taking work, drains (or releases at the deadline), disconnects. */
  close(): Promise<void>;
  /** Resolves when closed. */
  readonly closed: Promise<void>;
}

const HEARTBEAT_MS = 2000;
const HEARTBEAT_TTL_MS = 10_000;

/**
 * `mcp-index worker`: pulls batches from the queue and runs them on this host's pool with the same `handleJob`
 * as local mode. Inputs come from `root` when the content hash matches, otherwise from the run's blobs.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  await preflight(o, o.namespace);
  const keys = new Keys(o.namespace);
  const log = o.log ?? (() => {});
  const emit = o.onEvent ?? (() => {});
  const id = o.name ?? `${hostname()}-${process.pid}`;
  const redis: Redis = createRedis(o);
  redis.on('error', () => {});
  const pool = new LocalTransport({ threads: o.threads });
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const maxBlob = o.maxBlobBytes ?? 16 * 1024 * 1024;
  const stats: WorkerStats = { done: 0, failed: 0, rejected: 0, released: 0, currentRun: null };
  const cache = new ResultCache(redis, keys);

  async function resolveInputs(req: JobRequest): Promise<[string, Uint8Array][]> {
    const inputs: [string, Uint8Array][] = [];
    for (const f of req.files) {
      if (o.root) {
        const abs = safeJoin(o.root, f.path);
        const local = abs ? await readFile(abs).catch(() => null) : null;
        if (local && sha1(local) === f.hash) {
          inputs.push([f.path, local]);
          continue;
        }
      }
      const blob = await redis.getBuffer(keys.blob(req.runId, req.batchId, f.hash));
      if (!blob) throw new Error(`blob ${f.hash.slice(0, 12)} for ${f.path} is missing`);
      if (blob.length > maxBlob) throw new UnrecoverableError(`blob for ${f.path} is ${blob.length} bytes, over the ${maxBlob}-byte limit`);
      if (sha1(blob) !== f.hash) throw new Error(`blob for ${f.path} does not match its hash`);
      inputs.push([f.path, blob]);
    }
    return inputs;
  }

  async function processJob(job: Job, token?: string): Promise<{ files: number; symbols: number }> {
    const parsed = JobRequestSchema.safeParse(job.data);
    if (!parsed.success) {
      stats.rejected++;
      emit({ type: 'job-failed', jobId: String(job.id), reason: describeInvalid(parsed.error), outcome: 'rejected' });
      log('warn', 'rejected malformed job', { jobId: job.id, reason: describeInvalid(parsed.error) });
      throw new UnrecoverableError(`malformed job: ${describeInvalid(parsed.error)}`);
    }
    // The cache budget is this transport's business: handleJob gets the plain batch.
    const { cache: cacheOpts, ...data } = parsed.data;
    const req: JobRequest = { ...data, root: undefined };
    stats.currentRun = req.runId;
    const started = performance.now();
    emit({ type: 'job-start', jobId: String(job.id), runId: req.runId, files: req.files.length, queueWaitMs: Math.max(0, Date.now() - job.timestamp) });
    let res: ThreadResult;
    try {
      res = await pool.runForWire(req, await resolveInputs(req), { stop, cache: !!cacheOpts, delivery: { retries: job.attemptsMade, stalls: job.stalledCounter ?? 0 } });
    } catch (err) {
      if (/released/.test(String((err as Error)?.message)) && token) {
        // Shutdown deadline: hand the batch back now rather than let its lease run out.
        stats.released++;
        emit({ type: 'job-failed', jobId: String(job.id), reason: 'released at shutdown', outcome: 'released' });
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      stats.failed++;
      emit({ type: 'job-failed', jobId: String(job.id), reason: String((err as Error)?.message ?? err), outcome: 'failed' });
      throw err;
    }
    const wire = res.wire!;
    await redis.set(keys.result(req.runId, req.batchId), Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength), 'EX', 24 * 3600);
    // Before the job completes, so a run that finishes has filled the cache for the next one. Best effort:
    // a failed store costs a future parse, never this batch.
    let cached: { stored: number; evicted: number } | undefined;
    if (cacheOpts) {
      cached = await cache
        .store(res.cacheEntries ?? [], res.header.extractorVersion, cacheOpts.maxBytes)
        .then(({ stored, evicted }) => ({ stored, evicted }))
        .catch((err: Error) => {
          log('warn', 'result cache store failed', { jobId: job.id, error: err.message });
          return undefined;
        });
    }
    stats.done++;
    const { files, bytes, symbols } = res.header.counts;
    emit({ type: 'job-done', jobId: String(job.id), runId: req.runId, files, bytes, symbols, durationMs: performance.now() - started, ...(cached ? { cache: cached } : {}) });
    return { files, symbols };
  }

  const workerConn = createRedis(o);
  workerConn.on('error', () => {});
  const worker = new Worker(keys.queue, processJob, {
    connection: workerConn,
    prefix: keys.prefix,
    // One job beyond each thread: the pool queues it behind the running one (worker/thread.ts), so a thread never
    // waits for the Redis round trips between one job's completion and the next job's fetch.
    concurrency: o.threads * 2,
    lockDuration: o.lockMs ?? 30_000,
    stalledInterval: Math.max(1000, Math.floor((o.lockMs ?? 30_000) / 2)),
    // A batch may be orphaned by several killed workers in a row and still must not be dropped.
    maxStalledCount: 10,
    autorun: true,
  });
  worker.on('error', (err) => log('warn', 'worker connection error', { error: err.message }));
  worker.on('failed', (job, err) => {
    if (!(err instanceof DelayedError)) log('warn', 'batch failed', { jobId: job?.id, error: err.message, attempts: job?.attemptsMade });
  });

  const beat = async () => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    await redis
      .multi()
      .hset(keys.worker(id), {
        id,
        host: hostname(),
        pid: String(process.pid),
        threads: String(o.threads),
        cpuUserMs: String(Math.round(cpu.user / 1000)),
        cpuSystemMs: String(Math.round(cpu.system / 1000)),
        load1: loadavg()[0].toFixed(2),
        rssMb: String(Math.round(mem.rss / 1e6)),
        done: String(stats.done),
        failed: String(stats.failed),
        rejected: String(stats.rejected),
        run: stats.currentRun ?? '',
        beat: String(Date.now()),
      })
      .pexpire(keys.worker(id), HEARTBEAT_TTL_MS)
      .zadd(keys.workers, Date.now(), id)
      .exec()
      .catch(() => {});
  };
  await beat();
  const timer = setInterval(() => void beat(), HEARTBEAT_MS);
  log('info', 'worker started', { id, threads: o.threads, root: o.root ?? null });

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      emit({ type: 'draining' });
      const deadline = setTimeout(() => Atomics.store(stop, 0, 1), o.drainMs ?? 30_000);
      await worker.close(); // stops fetching, waits for active batches (which finish or release)
      clearTimeout(deadline);
      clearInterval(timer);
      await pool.close();
      await redis.multi().del(keys.worker(id)).zrem(keys.workers, id).exec().catch(() => {});
      redis.disconnect();
      workerConn.disconnect();
      log('info', 'worker stopped', { ...stats });
      emit({ type: 'stopped' });
      resolveClosed();
    })());
  return { id, stats, close, closed };
}
