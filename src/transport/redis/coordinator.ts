import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { EXTRACTOR_VERSION } from '../../extract/version.js';
import type { FileRef, FileResult, JobRequest, JobResult, Priority } from '../../protocol/types.js';
import { PROTOCOL_VERSION } from '../../protocol/types.js';
import { workerRows } from '../../ops/heartbeats.js';
import { within } from '../../util/time.js';
import { RunFailedError, type Transport, type TransportHealth } from '../types.js';
import { ResultCache } from './cache.js';
import { decodeResult } from './codec.js';
import { createRedis, preflight, redisRefusal, writeRefusal, type RedisConnectOptions } from './connection.js';
import { Keys, PRIORITY_RANK } from './keys.js';
import { removeRunData } from './runs.js';

export interface RedisTransportOptions extends RedisConnectOptions {
  namespace: string;
  /** Where the coordinator reads file content to upload as blobs. */
  root: string;
  /** Batches in flight (uploaded and queued); bounds Redis memory and gives the coordinator backpressure. */
  window?: number;
  /** Attempts per batch before the pipeline splits it (BullMQ retries with exponential backoff and jitter). */
  attempts?: number;
  backoffMs?: number;
  /** Safety net for missed events (e.g. across a Redis restart). */
  sweepMs?: number;
  /**
   * Budget of the shared result cache in bytes; 0 or absent: off. Off by default so a transport built without it
   * behaves as before the cache (every file parsed); the CLI passes `--cache-mb` (default 256 MiB).
   */
  cacheBytes?: number;
}

type JobData = Omit<JobRequest, 'root'>;
interface Waiter {
  req: JobRequest;
  /** Files of the batch answered by the result cache (not sent to a worker), by path. */
  cached: Map<string, FileResult>;
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
}

export interface CacheCounters {
  enabled: boolean;
  /** Files answered by the shared result cache (no worker saw them). */
  hits: number;
  /** Files looked up and parsed by workers. */
  misses: number;
}

const fileKey = (f: FileRef) => `${f.path}\0${f.hash}`;

/** Blobs expire on their own after a day, should a run be abandoned for good. */
const BLOB_TTL_S = 24 * 3600;

/** How long the end of a run waits for Redis to take its clean-up. */
const RELEASE_MS = 10_000;

/** A Redis error that fails the run rather than the batch (no split can cure a full Redis); null for others. */
function runFailure(err: unknown): RunFailedError | null {
  const why = redisRefusal(err instanceof Error ? err.message : String(err));
  return why ? new RunFailedError(why) : null;
}

/**
 * The coordinator's side of the cluster: uploads a batch's files as content-addressed blobs, enqueues the batch on
 * BullMQ with its run's priority, and resolves when a worker has stored the result. Job ids are derived from the
 * run and batch ids, so a restarted coordinator finds its jobs (done or not) instead of enqueuing them twice.
 */
export class RedisTransport implements Transport {
  readonly name = 'redis' as const;
  /** Queued batches survive the coordinator: a rerun of the same plan collects them. */
  readonly durable = true;
  readonly capacity: number;
  readonly keys: Keys;
  private readonly waiting = new Map<string, Waiter>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private conns: Redis[] = [];
  /** Batches whose job failed for good (and was split): removed with the run's leftovers once it commits. */
  private readonly failed: JobRequest[] = [];
  /** Uploads and enqueues under way: a failed run's clean-up waits for them, or they would write after it. */
  private readonly enqueuing = new Set<Promise<void>>();
  private readonly cache: ResultCache | null;
  private readonly cacheBytes: number;
  readonly cacheCounters: CacheCounters;

  private constructor(
    private readonly o: RedisTransportOptions,
    readonly redis: Redis,
    readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {
    this.keys = new Keys(o.namespace);
    this.capacity = o.window ?? 32;
    this.cacheBytes = Math.max(0, o.cacheBytes ?? 0);
    this.cache = this.cacheBytes > 0 ? new ResultCache(redis, this.keys) : null;
    this.cacheCounters = { enabled: this.cache !== null, hits: 0, misses: 0 };
  }

  static async create(o: RedisTransportOptions): Promise<RedisTransport> {
    const { refusal } = await preflight(o, o.namespace);
    if (refusal) throw new RunFailedError(refusal); // nothing could be uploaded
    const keys = new Keys(o.namespace);
    const conns = [createRedis(o), createRedis(o), createRedis(o)];
    // ioredis reconnects by itself; a lasting outage shows as stalled progress, not as a crash.
    for (const c of conns) c.on('error', () => {});
    const [redis, queueConn, eventsConn] = conns;
    const queue = new Queue(keys.queue, { connection: queueConn, prefix: keys.prefix });
    queue.on('error', () => {});
    const events = new QueueEvents(keys.queue, { connection: eventsConn, prefix: keys.prefix });
    events.on('error', () => {});
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const t = new RedisTransport(o, redis, queue, events);
    t.conns = conns;
    events.on('completed', ({ jobId }) => void t.check(jobId));
    events.on('failed', ({ jobId }) => void t.check(jobId));
    t.sweepTimer = setInterval(() => {
      for (const id of t.waiting.keys()) void t.check(id);
    }, o.sweepMs ?? 1000);
    t.sweepTimer.unref();
    return t;
  }

  /** Resolves or rejects a waiter from the job's real state (events are hints; state is the truth). */
  private async check(jobId: string): Promise<void> {
    const w = this.waiting.get(jobId);
    if (!w || this.closed) return;
    let job: Job | undefined;
    let state: string;
    try {
      // State first, then the job: a job read before it finished would carry no failedReason (or a stale
      // attemptsMade) even once its state says failed. A finished job's fields no longer change.
      state = await this.queue.getJobState(jobId);
      if (state !== 'completed' && state !== 'failed') return; // not finished, or not yet visible: the sweep looks again
      job = await this.queue.getJob(jobId);
      if (!job) return; // just removed by an ack
    } catch {
      return; // Redis unavailable right now: the sweep retries
    }
    if (!this.waiting.has(jobId)) return;
    if (state === 'completed') {
      const buf = await this.redis.getBuffer(this.keys.result(w.req.runId, w.req.batchId)).catch(() => undefined);
      if (buf === undefined) return; // transient error: retry on next sweep
      this.waiting.delete(jobId);
      if (!buf) {
        w.reject(new RunFailedError('a result vanished from Redis before it was merged: set maxmemory-policy noeviction (an evicting Redis loses work)'));
        return;
      }
      let res: JobResult;
      try {
        res = decodeResult(buf);
      } catch (e) {
        w.reject(new Error(`undecodable result: ${(e as Error).message}`));
        return;
      }
      try {
        const cached = this.withCached(w, res);
        res.delivery = { retries: Math.max(0, job.attemptsMade - 1), stalls: job.stalledCounter ?? 0, ...(this.cache ? { cached } : {}) };
        w.resolve(res);
      } catch (e) {
        w.reject(e as Error);
      }
    } else if (state === 'failed') {
      this.waiting.delete(jobId);
      // A worker that could not store its result (Redis full, no rights) says so in the reason: that fails the run.
      const reason = job.failedReason || 'batch failed';
      const fatal = runFailure(reason);
      if (!fatal) this.failed.push(w.req);
      w.reject(fatal ?? new Error(reason));
    }
  }

  private async uploadBlobs(req: JobRequest): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const f of req.files) {
      const data = await readFile(join(this.o.root, f.path)).catch(() => null);
      // A file that vanished still gets a job: the worker reports it as deleted, which is the truth.
      if (data) pipe.set(this.keys.blob(req.runId, req.batchId, f.hash), data, 'EX', BLOB_TTL_S);
    }
    // A pipeline reports per-command errors (e.g. OOM under maxmemory) in its results instead of throwing.
    const failed = (await pipe.exec())?.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }

  /**
   * Completes a worker's result (which covers only the batch's cache misses) with the cached files, in the
   * batch's order. Returns how many came from the cache.
   */
  private withCached(w: Waiter, res: JobResult): number {
    if (this.cache) this.cacheCounters.misses += res.files.length;
    if (w.cached.size === 0) return 0;
    const parsed = new Map(res.files.map((f) => [f.path, f]));
    let fromCache = 0;
    res.files = w.req.files.map((f) => {
      const r = parsed.get(f.path) ?? (fromCache++, w.cached.get(f.path));
      if (!r) throw new Error(`result lacks ${f.path}`);
      return r;
    });
    this.cacheCounters.hits += fromCache;
    return fromCache;
  }

  /** Cached results by path; a cache that cannot answer (Redis busy, out of memory) only costs parses. */
  private async lookup(req: JobRequest): Promise<Map<string, FileResult>> {
    if (!this.cache) return new Map();
    return this.cache.lookup(req.files, EXTRACTOR_VERSION, req.limits.maxFileBytes).catch(() => new Map<string, FileResult>());
  }

  async submit(req: JobRequest, opts: { priority?: Priority } = {}): Promise<JobResult> {
    const jobId = this.keys.jobId(req.runId, req.batchId);
    const started = performance.now();
    const cached = await this.lookup(req);
    const misses = cached.size ? req.files.filter((f) => !cached.has(f.path)) : req.files;
    if (misses.length === 0) {
      // Every file is cached: no upload, no job. Whatever an earlier life of this run left queued goes at the ack.
      this.cacheCounters.hits += req.files.length;
      return {
        v: PROTOCOL_VERSION,
        runId: req.runId,
        batchId: req.batchId,
        files: req.files.map((f) => cached.get(f.path)!),
        extractorVersion: EXTRACTOR_VERSION,
        worker: { host: hostname(), pid: process.pid, threadId: 0 },
        durationMs: performance.now() - started,
        delivery: { retries: 0, stalls: 0, cached: req.files.length },
      };
    }
    const done = new Promise<JobResult>((resolve, reject) => this.waiting.set(jobId, { req, cached, resolve, reject }));
    let enqueued!: () => void;
    const enqueuing = new Promise<void>((r) => (enqueued = r));
    this.enqueuing.add(enqueuing);
    try {
      let existing = await this.queue.getJob(jobId);
      if (existing && !this.covers(existing.data as JobData, misses)) {
        // An earlier life of this run sent only its cache misses, and some of its hits have been evicted since:
        // that job cannot complete this batch. Replace it; if a worker holds it, fail and let the batch split.
        await existing.remove().catch((err: Error) => {
          throw new Error(`cache entries of a resumed batch were evicted and its job is busy: ${err.message}`);
        });
        await this.redis.del(this.keys.result(req.runId, req.batchId));
        existing = undefined;
      }
      if (existing && (await existing.getState()) === 'failed') {
        // Left failed by an earlier life of this run: give it a fresh set of attempts rather than split at once.
        // (without the resets BullMQ keeps attemptsMade at the limit, and the first new failure would be final).
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } else if (!existing) {
        // Only the misses travel: their blobs are uploaded and a worker parses them. Same batch id, same job id.
        const sent: JobRequest = { ...req, files: misses };
        await this.uploadBlobs(sent);
        const { root: _root, ...data } = sent;
        if (this.cache) data.cache = { maxBytes: this.cacheBytes };
        await this.queue.add('batch', data satisfies JobData, {
          jobId,
          priority: PRIORITY_RANK[opts.priority ?? 'normal'],
          attempts: this.o.attempts ?? 4,
          backoff: { type: 'exponential', delay: this.o.backoffMs ?? 500, jitter: 0.5 },
          removeOnComplete: false,
          removeOnFail: false,
        });
      }
    } catch (err) {
      this.waiting.delete(jobId); // not enqueued: nothing to wait for (the sweep would poll it forever)
      throw runFailure(err) ?? err;
    } finally {
      enqueued();
      this.enqueuing.delete(enqueuing);
    }
    void this.check(jobId);
    return done;
  }

  /** Whether a job already queued for this batch parses every file the cache cannot answer now. */
  private covers(data: JobData, misses: readonly FileRef[]): boolean {
    const sent = new Set((Array.isArray(data?.files) ? data.files : []).map(fileKey));
    return misses.every((f) => sent.has(fileKey(f)));
  }

  /** After the merge committed: drop the job, its blobs and its result. Idempotent. */
  async ack(req: JobRequest): Promise<void> {
    const jobId = this.keys.jobId(req.runId, req.batchId);
    const pipe = this.redis.pipeline();
    for (const f of req.files) pipe.del(this.keys.blob(req.runId, req.batchId, f.hash));
    pipe.del(this.keys.result(req.runId, req.batchId));
    await pipe.exec();
    await this.queue.remove(jobId).catch(() => 0);
  }

  /** Live workers, batches running now, and whether Redis still takes writes and the run is not cancelled. */
  async health(runId: string): Promise<TransportHealth> {
    const [workers, running, refusal, [state, by]] = await Promise.all([
      workerRows(this.redis, this.keys),
      this.queue.getActiveCount(),
      writeRefusal(this.redis, this.keys.ns),
      this.redis.hmget(this.keys.run(runId), 'state', 'cancelledBy'),
    ]);
    const fatal = refusal
      ? new RunFailedError(refusal)
      : state === 'cancelled'
        ? new RunFailedError(`run ${runId} was cancelled (${by || 'mcp-index runs cancel'})`, true)
        : undefined;
    return { workersAlive: workers.length, running, fatal };
  }

  /**
   * The run is over. Committed: drop the jobs of batches that failed and were split (their halves were acked).
   * Failed: drop everything the run put in Redis, its queued jobs included.
   */
  async release(runId: string, failure: RunFailedError | null): Promise<void> {
    const work = async () => {
      if (failure) {
        await Promise.allSettled(this.enqueuing);
        await removeRunData(this.redis, this.queue, this.keys, runId);
      }
      else for (const req of this.failed.splice(0)) await this.ack(req);
    };
    await within(RELEASE_MS, work()); // a Redis that is away must not hold the run's end: `runs purge` finishes it
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const w of this.waiting.values()) w.reject(new Error('transport closed'));
    this.waiting.clear();
    // QueueEvents sits in a blocking XREAD; dropping its connection first makes close immediate.
    this.conns[2]?.disconnect();
    await within(RELEASE_MS, Promise.allSettled([this.events.close(), this.queue.close()])); // not forever without Redis
    for (const c of this.conns) c.disconnect();
  }
}
