import { hostname } from 'node:os';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { EXTRACTOR_VERSION } from '../../extract/version.js';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { buildFragment, spoolDir, spoolFragment } from '../../index-store/fragment.js';
import { workerRows } from '../../ops/heartbeats.js';
import { batchId } from '../../plan/plan.js';
import type { BatchCounts, FileFailure, FileRef, FileResult, JobRequest, Priority } from '../../protocol/types.js';
import { countsOf, failuresOf, PROTOCOL_VERSION } from '../../protocol/types.js';
import { readUnderRoot } from '../../worker/read.js';
import { sleep, within } from '../../util/time.js';
import { type BatchResult, type Transport, type TransportHealth } from '../types.js';
import { ResultCache } from './cache.js';
import { parsedBy, readBatch } from './codec.js';
import type { DecodeTask } from './decode-thread.js';
import { createRedis, preflight, redisRefusal, writeRefusal, type RedisConnectOptions } from './connection.js';
import { ALREADY_MERGED, Keys, PRIORITY_RANK } from './keys.js';
import { removeRunData } from './runs.js';
import { RunFailedError } from '../../errors.js';

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
  /** The files the job itself carries (the cache misses), as a batch id: what a result must have parsed. */
  sentId: string;
  sent: number;
  /** The job is in the queue (from here on, a job that vanished without a result was lost). */
  queued: boolean;
  resolve: (r: BatchResult) => void;
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

// Resolves to dist/transport/redis/decode-thread.js from both src/ (tests) and dist/ (the CLI).
const DECODE_THREAD = fileURLToPath(new URL('../../../dist/transport/redis/decode-thread.js', import.meta.url));

/** Blobs expire on their own after a day, should a run be abandoned for good. */
const BLOB_TTL_S = 24 * 3600;

const cancelledMessage = (runId: string, by?: string | null) => `run ${runId} was cancelled (${by || 'mcp-index runs cancel'})`;

/** How long the end of a run waits for Redis to take its clean-up. */
const RELEASE_MS = 10_000;

/**
 * The queue's event stream is trimmed to about this many entries (BullMQ's default: 10,000). Events only tell a
 * coordinator when to look (the sweep finds whatever it missed), so a short log costs nothing and keeps Redis's
 * memory at its baseline between runs.
 */
export const EVENT_LOG_LEN = 1000;

/** A Redis error that fails the run rather than the batch (no split can cure a full Redis); null for others. */
function runFailure(err: unknown): RunFailedError | null {
  const why = redisRefusal(err instanceof Error ? err.message : String(err));
  return why ? new RunFailedError(why) : null;
}

/**
 * The coordinator's side of the cluster: enqueues a batch on BullMQ with its run's priority, uploads the files a
 * worker asks for (serveBlobs), and resolves with the batch's fragment once a worker has stored its result. Job ids
 * are derived from the run and batch ids, so a restarted coordinator finds its jobs (or their results) instead of
 * enqueuing them twice.
 */
export class RedisTransport implements Transport {
  readonly name = 'redis' as const;
  /** Queued batches survive the coordinator: a rerun of the same plan collects them. */
  readonly durable = true;
  readonly capacity: number;
  readonly keys: Keys;
  private readonly waiting = new Map<string, Waiter>();
  /** Jobs that completion does not remove (it removes the others): queued by an earlier life, or failed. */
  private readonly leftover = new Set<string>();
  private readonly failedJobs = new Set<string>();
  /**
   * Batches merged and acknowledged in this life, by job id. A worker may still hold one: Redis was away longer than
   * a lease, BullMQ gave the batch to another worker, and the first one's result was merged. That worker is told
   * so when it asks for blobs, and a result it stores anyway is removed when its job completes.
   */
  private readonly merged = new Map<string, { runId: string; batchId: string }>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private conns: Redis[] = [];
  /** Runs whose blob requests this transport answers, and the loop that does (serveBlobs). */
  private readonly servedRuns = new Set<string>();
  private blobLoop: Promise<void> | null = null;
  /** Blob requests answered, and the blobs and bytes they uploaded. */
  readonly blobCounters = { requests: 0, uploaded: 0, bytes: 0 };
  /** The thread that decompresses results into the spool (decoder()). */
  private decoding: Promise<Piscina<DecodeTask, string>> | null = null;
  /** Redis refused an upload a worker asked for: the run cannot go on (reported by health()). */
  private blobFailure: RunFailedError | null = null;
  /** Batches whose job failed for good (and was split): removed with the run's leftovers once it commits. */
  private readonly failed: JobRequest[] = [];
  /** Enqueues under way: a failed run's clean-up waits for them, or they would write after it. */
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
    const queue = new Queue(keys.queue, { connection: queueConn, prefix: keys.prefix, streams: { events: { maxLen: EVENT_LOG_LEN } } });
    queue.on('error', () => {});
    const events = new QueueEvents(keys.queue, { connection: eventsConn, prefix: keys.prefix });
    events.on('error', () => {});
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const t = new RedisTransport(o, redis, queue, events);
    t.conns = conns;
    events.on('completed', ({ jobId }) => void (t.merged.has(jobId) ? t.dropLate(jobId) : t.check(jobId)));
    events.on('failed', ({ jobId }) => void t.check(jobId));
    t.sweepTimer = setInterval(() => {
      for (const id of t.waiting.keys()) void t.check(id);
    }, o.sweepMs ?? 1000);
    t.sweepTimer.unref();
    return t;
  }

  /**
   * Resolves or rejects a waiter. A batch is done when its result is in Redis (a worker stores it before it completes
   * the job, and completed jobs are removed): one GET. Without a result, the job's state tells a failure, or a
   * result lost after all. Events only say when to look; the sweep looks again at whatever is still waiting.
   */
  private async check(jobId: string): Promise<void> {
    const w = this.waiting.get(jobId);
    if (!w || this.closed) return;
    const resultKey = this.keys.result(w.req.runId, w.req.batchId);
    let buf: Buffer | null;
    try {
      buf = await this.redis.getBuffer(resultKey);
    } catch {
      return; // Redis unavailable right now: the sweep retries
    }
    if (buf) return this.completed(jobId, w, buf);
    let state: string;
    try {
      state = await this.queue.getJobState(jobId);
    } catch {
      return;
    }
    // 'unknown' once the job is queued: removed with no result. Completed jobs remove themselves after storing
    // their result, so either the run was cancelled (`runs cancel` removes its jobs) or a result was lost (an
    // evicting Redis).
    if (state === 'unknown' && w.queued && !(await this.redis.exists(resultKey).catch(() => 1))) {
      const [runState, by] = await this.redis.hmget(this.keys.run(w.req.runId), 'state', 'cancelledBy').catch(() => [null, null]);
      if (this.waiting.get(jobId) !== w) return;
      this.waiting.delete(jobId);
      w.reject(
        runState === 'cancelled'
          ? new RunFailedError(cancelledMessage(w.req.runId, by), true)
          : new RunFailedError('a result vanished from Redis before it was merged: set maxmemory-policy noeviction (an evicting Redis loses work)'),
      );
    } else if (state === 'failed') {
      const job = await this.queue.getJob(jobId).catch(() => undefined);
      if (this.waiting.get(jobId) !== w) return;
      this.waiting.delete(jobId);
      // A worker that could not store its result (Redis full, no rights) says so in the reason: that fails the run.
      const reason = job?.failedReason || 'batch failed';
      const fatal = runFailure(reason);
      if (!fatal) {
        this.failed.push(w.req);
        this.failedJobs.add(jobId);
      }
      w.reject(fatal ?? new Error(reason));
    }
  }

  private async completed(jobId: string, w: Waiter, buf: Buffer): Promise<void> {
    if (this.waiting.get(jobId) !== w) return; // settled meanwhile by another check
    this.waiting.delete(jobId);
    try {
      let decoded;
      try {
        decoded = readBatch(buf);
      } catch (e) {
        throw new Error(`undecodable result: ${(e as Error).message}`);
      }
      const { header, body, fragmentBytes, crc } = decoded;
      if (header.batchId !== w.req.batchId || header.parsed !== w.sentId) {
        throw new Error(`result of batch ${header.batchId} (files ${header.parsed}) does not answer batch ${w.req.batchId} (files ${w.sentId})`);
      }
      // Decompressed and written to the spool on a thread of its own: this one only hands fragments over.
      const fragments = [await (await this.decoder()).run({ batchId: w.req.batchId, body, fragmentBytes, crc } satisfies DecodeTask)];
      const counts = { ...header.counts };
      const failures = Array.isArray(header.failures) ? [...header.failures] : [];
      const cached = this.withCached(w, fragments, counts, failures);
      const delivery = { retries: header.delivery?.retries ?? 0, stalls: header.delivery?.stalls ?? 0, ...(this.cache ? { cached } : {}) };
      w.resolve({ ...header, counts, failures, fragments, delivery });
    } catch (e) {
      w.reject(e as Error);
    }
  }

  /** The thread that decompresses results into the spool, started (and Piscina loaded) on first use. */
  private decoder(): Promise<Piscina<DecodeTask, string>> {
    spoolDir(); // the decoder writes there; this (main) thread removes it at exit
    return (this.decoding ??= import('piscina').then(
      ({ Piscina }) => new Piscina<DecodeTask, string>({ filename: DECODE_THREAD, minThreads: 1, maxThreads: 1, idleTimeout: Number.MAX_SAFE_INTEGER }),
    ));
  }

  /**
   * Serves the blob requests of a run (Keys.blobsWanted): a worker that cannot read some files itself asks, and
   * this coordinator reads them from its root and uploads them. One loop for all the runs this transport serves,
   * on a connection of its own (BLPOP blocks it).
   */
  private serveBlobs(runId: string): void {
    this.servedRuns.add(runId);
    if (this.blobLoop) return;
    const conn = createRedis(this.o);
    conn.on('error', () => {});
    this.conns.push(conn);
    this.blobLoop = (async () => {
      while (!this.closed) {
        let popped: [string, string] | null;
        try {
          popped = await conn.blpop(...[...this.servedRuns].map((r) => this.keys.blobsWanted(r)), 1);
        } catch {
          if (!this.closed) await new Promise((r) => setTimeout(r, 500)); // Redis away: ioredis reconnects
          continue;
        }
        if (!popped) continue;
        const runId = [...this.servedRuns].find((r) => this.keys.blobsWanted(r) === popped![0]);
        if (runId) await this.uploadWanted(runId, popped[1]).catch(() => {}); // the worker times out and retries
      }
    })();
  }

  /** Uploads the blobs one request names, of files of that batch only (never a path the request gives), then says so. */
  private async uploadWanted(runId: string, message: string): Promise<void> {
    let want: { batchId?: unknown; hashes?: unknown };
    try {
      want = JSON.parse(message) as typeof want;
    } catch {
      return;
    }
    if (typeof want.batchId !== 'string' || !Array.isArray(want.hashes)) return;
    const batchId = want.batchId;
    const jobId = this.keys.jobId(runId, batchId);
    // A batch merged already (see `merged`) gets no blobs, only that answer. Otherwise its files: this life's
    // request, or the job an earlier life queued.
    const merged = this.merged.has(jobId);
    const job = merged ? undefined : (this.waiting.get(jobId)?.req ?? ((await this.queue.getJob(jobId))?.data as JobData | undefined));
    const files = job?.files ?? [];
    const hashes = new Set(want.hashes.filter((h): h is string => typeof h === 'string'));
    const pipe = this.redis.pipeline();
    for (const f of files) {
      if (!hashes.delete(f.hash)) continue;
      // The same distrustful read as a worker's (worker/read.ts): a file that vanished, or turned into a FIFO or a
      // link out of the root, gets no blob: the worker says so, and the batch fails until its file is isolated.
      const got = readUnderRoot(this.o.root, f.path, job!.limits.maxFileBytes);
      if (!Buffer.isBuffer(got)) continue;
      const data = Buffer.from(got); // a copy: the reader's buffer is reused, the pipeline sends later
      pipe.set(this.keys.blob(runId, batchId, f.hash), data, 'EX', BLOB_TTL_S);
      this.blobCounters.uploaded++;
      this.blobCounters.bytes += data.length;
    }
    const ready = this.keys.blobsReady(runId, batchId);
    pipe.lpush(ready, merged ? ALREADY_MERGED : '1').expire(ready, BLOB_TTL_S);
    if (!merged) this.blobCounters.requests++;
    // A pipeline reports per-command errors (e.g. OOM under maxmemory) in its results instead of throwing. A
    // refusal fails the run (health() reports it); anything else only this request, which the worker retries.
    const failed = (await pipe.exec())?.find(([err]) => err)?.[0];
    if (failed) {
      this.blobFailure ??= runFailure(failed);
      throw failed;
    }
  }

  /**
   * Completes a worker's result (which covers only the batch's cache misses) with the cached files: their rows as
   * one more fragment, their totals added to `counts` and their failures to `failures`. Returns how many came from the cache.
   */
  private withCached(w: Waiter, fragments: string[], counts: BatchCounts, failures: FileFailure[]): number {
    if (this.cache) this.cacheCounters.misses += w.sent;
    if (w.cached.size === 0) return 0;
    const files = [...w.cached.values()];
    fragments.push(spoolFragment(w.req.batchId, buildFragment(files)));
    const c = countsOf(files);
    for (const k of Object.keys(c) as (keyof BatchCounts)[]) counts[k] += c[k];
    failures.push(...failuresOf(files));
    this.cacheCounters.hits += files.length;
    return files.length;
  }

  /** Cached results by path; a cache that cannot answer (Redis busy, out of memory) only costs parses. */
  private async lookup(req: JobRequest): Promise<Map<string, FileResult>> {
    if (!this.cache) return new Map();
    return this.cache.lookup(req.files, EXTRACTOR_VERSION, req.limits.maxFileBytes).catch(() => new Map<string, FileResult>());
  }

  async submit(req: JobRequest, opts: { priority?: Priority } = {}): Promise<BatchResult> {
    const jobId = this.keys.jobId(req.runId, req.batchId);
    const started = performance.now();
    this.serveBlobs(req.runId); // a worker of this run (or of its earlier life) may ask for blobs
    const cached = await this.lookup(req);
    const misses = cached.size ? req.files.filter((f) => !cached.has(f.path)) : req.files;
    if (misses.length === 0) {
      // Every file is cached: no upload, no job. Whatever an earlier life of this run left queued goes at the ack.
      this.cacheCounters.hits += req.files.length;
      const files = req.files.map((f) => cached.get(f.path)!);
      return {
        v: PROTOCOL_VERSION,
        runId: req.runId,
        batchId: req.batchId,
        extractorVersion: EXTRACTOR_VERSION,
        worker: { host: hostname(), pid: process.pid, threadId: 0 },
        durationMs: performance.now() - started,
        counts: countsOf(files),
        failures: failuresOf(files),
        parsed: batchId([]),
        fragments: [spoolFragment(req.batchId, buildFragment(files))],
        delivery: { retries: 0, stalls: 0, cached: req.files.length },
      };
    }
    let waiter!: Waiter;
    const done = new Promise<BatchResult>(
      (resolve, reject) => this.waiting.set(jobId, (waiter = { req, cached, sentId: batchId(misses), sent: misses.length, queued: false, resolve, reject })),
    );
    let enqueued!: () => void;
    const enqueuing = new Promise<void>((r) => (enqueued = r));
    this.enqueuing.add(enqueuing);
    try {
      // An earlier life of this run may have queued this batch (a job) or finished it (a result). One round trip
      // tells, and a fresh run pays no more.
      const [[, jobExists], [, head]] = (await this.redis.multi().exists(this.queue.toKey(jobId)).getrangeBuffer(this.keys.result(req.runId, req.batchId), 0, 4095).exec()) as unknown as [
        [Error | null, number],
        [Error | null, Buffer],
      ];
      // A result whose start does not show what it answers is left for check() to read whole.
      const finished = head?.length ? (parsedBy(head) ?? waiter.sentId) : null;
      if (finished !== null && finished !== waiter.sentId) {
        // That result covers other files (the cache answered more then): parse this time's misses instead.
        await this.redis.del(this.keys.result(req.runId, req.batchId));
      } else if (finished !== null) {
        waiter.queued = true; // finished by an earlier life: check() takes its result
      }
      if (!waiter.queued) {
        let existing = jobExists ? await this.queue.getJob(jobId) : undefined;
        if (existing) this.leftover.add(jobId);
        if (existing && !this.covers(existing.data as JobData, misses)) {
          // An earlier life of this run sent only its cache misses, and some of its hits have been evicted since:
          // that job cannot complete this batch. Replace it; if a worker holds it, fail and let the batch split.
          await existing.remove().catch((err: Error) => {
            throw new Error(`cache entries of a resumed batch were evicted and its job is busy: ${err.message}`);
          });
          await this.redis.del(this.keys.result(req.runId, req.batchId));
          existing = undefined;
        }
        if (existing) {
          // Queued by an earlier life of this run, perhaps with more files than today's misses: its result answers
          // those, the cache the rest.
          const files = (existing.data as JobData).files;
          waiter.sentId = batchId(files);
          waiter.sent = files.length;
          for (const f of files) cached.delete(f.path);
        }
        if (existing && (await existing.getState()) === 'failed') {
          // Left failed by an earlier life of this run: give it a fresh set of attempts rather than split at once.
          // (without the resets BullMQ keeps attemptsMade at the limit, and the first new failure would be final).
          await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        } else if (!existing) {
          // Only the misses travel, and a worker parses them; their blobs are uploaded if a worker asks. Same batch
          // id, same job id.
          const { root: _root, ...data }: JobRequest = { ...req, files: misses };
          if (this.cache) data.cache = { maxBytes: this.cacheBytes };
          await this.queue.add('batch', data satisfies JobData, {
            jobId,
            priority: PRIORITY_RANK[opts.priority ?? 'normal'],
            attempts: this.o.attempts ?? 4,
            backoff: { type: 'exponential', delay: this.o.backoffMs ?? 500, jitter: 0.5 },
            // A completed job has nothing left to say: its result is in Redis under its own key.
            removeOnComplete: true,
            removeOnFail: false,
          });
        }
      }
      waiter.queued = true;
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

  /** After the merge committed: drop the batch's blobs and result, and a job an earlier life left. Idempotent. */
  async ack(req: JobRequest): Promise<void> {
    const jobId = this.keys.jobId(req.runId, req.batchId);
    // One DEL: the blobs (if a worker asked for any, in this life or an earlier one), the result, the answer, and
    // the deaths its workers recorded.
    await this.redis.del(
      ...new Set(req.files.map((f) => this.keys.blob(req.runId, req.batchId, f.hash))),
      this.keys.result(req.runId, req.batchId),
      this.keys.blobsReady(req.runId, req.batchId),
      this.keys.deaths(req.runId, req.batchId),
    );
    this.merged.set(jobId, { runId: req.runId, batchId: req.batchId });
    // This life's jobs were removed when they completed; a failed one, or one an earlier life queued, is removed here.
    if (this.leftover.delete(jobId) || this.failedJobs.delete(jobId)) await this.queue.remove(jobId).catch(() => 0);
  }

  /** A job completed for a batch merged already (see `merged`): its result is not needed. */
  private async dropLate(jobId: string): Promise<void> {
    const b = this.merged.get(jobId)!;
    await this.redis.del(this.keys.result(b.runId, b.batchId), this.keys.deaths(b.runId, b.batchId)).catch(() => 0);
  }

  /** Live workers, batches running now, and whether Redis still takes writes and the run is not cancelled. */
  async health(runId: string): Promise<TransportHealth> {
    const [workers, running, refusal, [state, by]] = await Promise.all([
      workerRows(this.redis, this.keys),
      this.queue.getActiveCount(),
      writeRefusal(this.redis, this.keys.ns),
      this.redis.hmget(this.keys.run(runId), 'state', 'cancelledBy'),
    ]);
    const fatal = this.blobFailure
      ? this.blobFailure
      : refusal
      ? new RunFailedError(refusal)
      : state === 'cancelled'
        ? new RunFailedError(cancelledMessage(runId, by), true)
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
        let left = await removeRunData(this.redis, this.queue, this.keys, runId);
        // A worker waiting for blobs this coordinator will not upload any more holds its job, which cannot be removed
        // while held: wake it (its attempt fails at once, the blobs being gone), then remove again.
        for (let i = 0; left.busy > 0 && i < 5; i++) {
          const wake = this.redis.pipeline();
          for (const w of this.waiting.values()) {
            if (w.req.runId !== runId) continue;
            const ready = this.keys.blobsReady(runId, w.req.batchId);
            wake.lpush(ready, '0').expire(ready, 60);
          }
          await wake.exec();
          await sleep(250);
          left = await removeRunData(this.redis, this.queue, this.keys, runId);
        }
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
    if (this.decoding) await (await this.decoding).close();
    for (const c of this.conns) c.disconnect();
  }
}
