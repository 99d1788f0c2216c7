import { hostname, loadavg } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { sha1 } from '../../plan/hash.js';
import { describeInvalid, JobRequestSchema } from '../../protocol/schema.js';
import type { FileRef, JobRequest } from '../../protocol/types.js';
import type { ThreadResult } from '../../worker/thread.js';
import { workerCaps, type WorkerCaps } from '../../config/options.js';
import { ReleasedError } from '../../worker/handle-job.js';
import { readUnderRoot } from '../../worker/read.js';
import { LocalTransport } from '../local.js';
import { ResultCache } from './cache.js';
import { Quarantine } from './quarantine.js';
import { createRedis, preflight, redisRefusal, type RedisConnectOptions } from './connection.js';
import { sleep, within } from '../../util/time.js';
import { ALREADY_MERGED, Keys } from './keys.js';
import { UsageError } from '../../errors.js';

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
  /** This worker's own limits: a job's are lowered to them, never raised (default: the CLI's defaults, no memory cap). */
  caps?: WorkerCaps;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** Typed events for metrics and embedders. */
  onEvent?: (e: WorkerEvent) => void;
  /** The pool threads' module (LocalOptions.threadFile): tests only. */
  threadFile?: string;
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
  /** `requested`: asked through Redis (the dashboard), not by a signal. */
  | { type: 'draining'; requested?: boolean }
  | { type: 'stopped' };

/** A batch a worker holds, as its heartbeat publishes it (ops/heartbeats.ts reads it). */
export interface HeldBatch {
  run: string;
  batch: string;
  files: number;
  bytes: number;
  /** When it took it (epoch ms). */
  since: number;
}

export interface WorkerStats {
  done: number;
  failed: number;
  rejected: number;
  released: number;
  /** Blobs fetched (files this worker could not read from its checkout; identical files of a batch share one). */
  blobsFetched: number;
  currentRun: string | null;
  /** It passed its memory cap between batches and stopped (the CLI then exits with EXIT.overMemory). */
  overMemory: boolean;
}

export interface RunningWorker {
  readonly id: string;
  readonly stats: WorkerStats;
  /**
   * Stops taking work, drains (or releases at the deadline), disconnects; within the drain time plus a few seconds,
   * with or without Redis. Resolves with the batches it had to abandon: still running, or not handed back because
   * Redis was away (their leases expire, then other workers run them).
   */
  close(o?: { requested?: boolean }): Promise<number>;
  /** Resolves when closed, with the same count. */
  readonly closed: Promise<number>;
}

export const HEARTBEAT_MS = 2000;
/** How long a worker waits for the coordinator to upload the blobs it asked for, before the attempt fails. */
const BLOB_WAIT_S = 60;
const BLOB_WAIT_SLICE_S = 2;
const HEARTBEAT_TTL_MS = 10_000;
/** After the drain time, how long shutdown still waits for released batches to be handed back (if Redis answers). */
const HAND_BACK_MS = 3000;
/** Once nothing runs here, how long shutdown waits for BullMQ to record the last outcomes and stop. */
const SETTLE_MS = 1000;
/** The same warning is logged at most once per this long (with a count): a Redis outage must not flood the log. */
const REPEAT_LOG_MS = 30_000;

/** A log function that says each distinct message once, then at most once per REPEAT_LOG_MS with how often it came. */
function throttled(log: NonNullable<WorkerOptions['log']>): NonNullable<WorkerOptions['log']> {
  const seen = new Map<string, { at: number; repeats: number }>();
  return (level, msg, extra = {}) => {
    const key = `${msg}\0${String(extra.error ?? '')}`;
    const s = seen.get(key);
    const now = Date.now();
    if (s && now - s.at < REPEAT_LOG_MS) {
      s.repeats++;
      return;
    }
    seen.set(key, { at: now, repeats: 0 });
    if (seen.size > 100) seen.delete(seen.keys().next().value!);
    log(level, msg, s?.repeats ? { ...extra, repeated: s.repeats } : extra);
  };
}

/**
 * A blob as fetched for a file: present, within the limit, and the content the plan hashed. Anything else fails the
 * attempt (an oversize blob every attempt): the worker never indexes content under another content's hash.
 */
export function verifiedBlob(f: FileRef, blob: Buffer | null | undefined, maxBytes: number): Buffer {
  if (!blob) throw new Error(`blob ${f.hash.slice(0, 12)} for ${f.path} is missing`);
  if (blob.length > maxBytes) throw new UnrecoverableError(`blob for ${f.path} is ${blob.length} bytes, over the ${maxBytes}-byte limit`);
  if (sha1(blob) !== f.hash) throw new Error(`blob for ${f.path} does not match its hash`);
  return blob;
}

/**
 * `mcp-index worker`: pulls batches from the queue and runs them on this host's pool with the same `handleJob`
 * as local mode. Inputs come from `root` when the content hash matches, otherwise from the run's blobs.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const { refusal, replica } = await preflight(o, o.namespace);
  if (replica) throw new UsageError(refusal!); // never takes a write: nothing to wait for
  const keys = new Keys(o.namespace);
  const log = o.log ?? (() => {});
  const warnOnce = throttled(log);
  // A worker may start while Redis is full: its batches fail until memory is freed, but it stays up for when it is.
  if (refusal) log('warn', 'Redis refuses writes: batches will fail until this is fixed', { error: refusal });
  let active = 0;
  const emit = o.onEvent ?? (() => {});
  const id = o.name ?? `${hostname()}-${process.pid}`;
  const redis: Redis = createRedis(o);
  redis.on('error', () => {});
  const caps = o.caps ?? workerCaps({});
  const pool = new LocalTransport({ threads: o.threads, threadFile: o.threadFile, maxMemory: caps.maxMemoryBytes });
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const maxBlob = o.maxBlobBytes ?? 16 * 1024 * 1024;
  const stats: WorkerStats = { done: 0, failed: 0, rejected: 0, released: 0, blobsFetched: 0, currentRun: null, overMemory: false };
  const cache = new ResultCache(redis, keys);
  const quarantine = new Quarantine(redis, keys, warnOnce);
  /** The batches held now, by job id: the heartbeat publishes them. */
  const held = new Map<string, HeldBatch>();
  let draining = false;

  /** Connections for BLPOP (each blocks while it waits), kept for the next wait. */
  const blocking: Redis[] = [];
  const allBlocking: Redis[] = [];

  /**
   * Waits for the coordinator's answer to a blob request: the answer, or null when none came in time. In slices, so
   * that a worker told to stop hands the batch back instead of waiting on.
   */
  async function blobsReady(req: JobRequest): Promise<string | null> {
    let conn = blocking.pop();
    if (!conn) {
      conn = createRedis(o);
      conn.on('error', () => {});
      allBlocking.push(conn);
    }
    try {
      for (let waited = 0; waited < BLOB_WAIT_S; waited += BLOB_WAIT_SLICE_S) {
        if (Atomics.load(stop, 0) === 1) throw new ReleasedError();
        const answer = await conn.blpop(keys.blobsReady(req.runId, req.batchId), BLOB_WAIT_SLICE_S);
        if (answer !== null) return answer[1];
      }
      return null;
    } finally {
      blocking.push(conn);
    }
  }

  /**
   * The batch's files: from the checkout when this worker has one and the content hash matches, else as blobs. Blobs
   * are uploaded only on request: the worker asks the run's coordinator for the ones it lacks and waits for them.
   * Null: the coordinator merged this batch already.
   */
  async function resolveInputs(req: JobRequest): Promise<[string, Uint8Array][] | null> {
    const inputs: [string, Uint8Array][] = [];
    const wanted: FileRef[] = [];
    for (const f of req.files) {
      if (o.root) {
        // Only a regular file inside the checkout, within the size limit, that has the planned content: anything else
        // (a symlink out of the root, a FIFO, a device) is left to the coordinator, which has the run's content.
        const local = readUnderRoot(o.root, f.path, req.limits.maxFileBytes);
        if (Buffer.isBuffer(local) && sha1(local) === f.hash) {
          inputs.push([f.path, Buffer.from(local)]); // a copy: the reader's buffer is reused
          continue;
        }
      }
      wanted.push(f);
    }
    if (wanted.length === 0) return inputs;
    const blobKeys = wanted.map((f) => keys.blob(req.runId, req.batchId, f.hash));
    let blobs = await redis.mgetBuffer(...blobKeys);
    const missing = wanted.filter((_, i) => !blobs[i]);
    if (missing.length) {
      // Uploaded already when an earlier attempt asked; otherwise ask now.
      await redis.rpush(keys.blobsWanted(req.runId), JSON.stringify({ batchId: req.batchId, hashes: missing.map((f) => f.hash) }));
      const answer = await blobsReady(req);
      if (answer === null) throw new Error(`no coordinator answered within ${BLOB_WAIT_S} s for ${missing.length} file(s) this worker cannot read`);
      if (answer === ALREADY_MERGED) return null;
      blobs = await redis.mgetBuffer(...blobKeys);
    }
    wanted.forEach((f, i) => inputs.push([f.path, verifiedBlob(f, blobs[i], maxBlob)]));
    stats.blobsFetched += new Set(blobKeys).size; // identical files of a batch share one blob
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
    // A job's limits are a request: this worker's own caps bound them, whatever the message says.
    const limits = { maxFileBytes: Math.min(data.limits.maxFileBytes, caps.maxFileBytes), parseTimeoutMs: Math.min(data.limits.parseTimeoutMs, caps.parseTimeoutMs) };
    const req: JobRequest = { ...data, limits, root: undefined };
    stats.currentRun = req.runId;
    active++;
    held.set(String(job.id), { run: req.runId, batch: req.batchId, files: req.files.length, bytes: req.files.reduce((n, f) => n + f.size, 0), since: Date.now() });
    try {
      return await runJob(job, req, cacheOpts, token);
    } catch (err) {
      // Redis refusing our reads or writes (full, no rights, a replica): no retry helps, so the batch fails at once
      // and the coordinator, reading this reason, fails the run instead of splitting the batch.
      const why = redisRefusal(String((err as Error)?.message));
      if (!why) throw err;
      warnOnce('error', 'Redis refused a batch', { jobId: job.id, error: why });
      throw new UnrecoverableError((err as Error).message);
    } finally {
      active--;
      held.delete(String(job.id));
      checkMemory();
    }
  }

  /**
   * Between batches: a process past its cap (native memory a parse left behind, which the allocator keeps) hands
   * back every batch it has not started (they stop before their first file) and stops, to be started afresh.
   */
  function checkMemory(): void {
    if (!caps.maxMemoryBytes || draining) return;
    const rss = process.memoryUsage.rss();
    if (rss <= caps.maxMemoryBytes) return;
    stats.overMemory = true;
    log('warn', 'over its memory cap between batches: handing back the batches not started and stopping', { rssMb: Math.round(rss / 2 ** 20), capMb: Math.round(caps.maxMemoryBytes / 2 ** 20), held: held.size });
    Atomics.store(stop, 0, 1);
    void close();
  }

  async function runJob(job: Job, req: JobRequest, cacheOpts: { maxBytes: number } | undefined, token?: string): Promise<{ files: number; symbols: number }> {
    const started = performance.now();
    emit({ type: 'job-start', jobId: String(job.id), runId: req.runId, files: req.files.length, queueWaitMs: Math.max(0, Date.now() - job.timestamp) });
    let res: ThreadResult;
    const stalls = job.stalledCounter ?? 0;
    try {
      const inputs = await resolveInputs(req);
      if (!inputs) {
        log('info', 'batch merged already (another worker held it before its lease ran out): completing it with nothing to store', { jobId: job.id });
        stats.done++;
        emit({ type: 'job-done', jobId: String(job.id), runId: req.runId, files: 0, bytes: 0, symbols: 0, durationMs: performance.now() - started });
        return { files: 0, symbols: 0 };
      }
      const watch = await quarantine.begin(String(job.id), req, stalls);
      // Parsed (or failed) without killing this process: what it recorded is cleared before the result is written.
      res = await pool.runForWire(req, inputs, { stop, cache: !!cacheOpts, delivery: { retries: job.attemptsMade, stalls }, watch }).finally(() => quarantine.end(String(job.id)));
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
    // The cache first, the result last: the coordinator takes a batch as done once its result is there, and a run
    // that finishes must have filled the cache for the next one. Best effort: a failed store costs a future parse.
    let cached: { stored: number; evicted: number } | undefined;
    if (cacheOpts) {
      cached = await cache
        .store(res.cacheEntries ?? [], res.header.extractorVersion, cacheOpts.maxBytes)
        .then(({ stored, evicted }) => ({ stored, evicted }))
        .catch((err: Error) => {
          warnOnce('warn', 'result cache store failed', { jobId: job.id, error: err.message });
          return undefined;
        });
    }
    const wire = res.wire!;
    await redis.set(keys.result(req.runId, req.batchId), Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength), 'EX', 24 * 3600);
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
  worker.on('error', (err) => warnOnce('warn', 'worker connection error', { error: err.message }));
  worker.on('failed', (job, err) => {
    if (!(err instanceof DelayedError)) warnOnce('warn', 'batch failed', { jobId: job?.id, error: err.message, attempts: job?.attemptsMade });
  });

  /** Publishes this worker's state; resolves true when a drain was requested (Keys.drain). */
  const beat = async (): Promise<boolean> => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const replies = await redis
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
        state: draining ? 'draining' : 'running',
        jobs: JSON.stringify([...held.values()]),
        beat: String(Date.now()),
      })
      .pexpire(keys.worker(id), HEARTBEAT_TTL_MS)
      .zadd(keys.workers, Date.now(), id)
      .get(keys.drain(id))
      .exec()
      .catch(() => null);
    return !!replies?.[3]?.[1];
  };
  await beat();
  const timer = setInterval(
    () =>
      void beat().then((drain) => {
        if (drain) void close({ requested: true });
      }),
    HEARTBEAT_MS,
  );
  log('info', 'worker started', { id, threads: o.threads, root: o.root ?? null });

  let resolveClosed!: (abandoned: number) => void;
  const closed = new Promise<number>((r) => (resolveClosed = r));
  let closing: Promise<number> | null = null;
  const close = (c: { requested?: boolean } = {}) =>
    (closing ??= (async () => {
      draining = true;
      if (c.requested) log('info', 'drain requested: finishing the batches held, taking no new ones, then stopping', { held: held.size });
      emit({ type: 'draining', requested: c.requested });
      void beat(); // says "draining" now, not at the next beat
      const drainMs = o.drainMs ?? 30_000;
      const deadline = setTimeout(() => Atomics.store(stop, 0, 1), drainMs);
      // BullMQ's close stops fetching and waits for the active batches, which finish, or are handed back between two
      // files at the drain deadline. Each needs Redis to record it, so without Redis that close never returns: it gets
      // the drain time (and a moment to hand back, if Redis answers), or a moment once nothing runs here any more.
      const drained = worker.close().then(() => true);
      const idle = (async () => {
        while (active > 0) await sleep(100);
        await sleep(SETTLE_MS); // what just finished is being recorded
        return false;
      })();
      const timeUp = sleep(drainMs).then(async () => {
        if (workerConn.status === 'ready') await sleep(HAND_BACK_MS);
        return false;
      });
      const ok = await Promise.race([drained, idle, timeUp]);
      clearTimeout(deadline);
      clearInterval(timer);
      Atomics.store(stop, 0, 1); // a batch still parsing stops between two files
      const abandoned = ok ? 0 : active;
      if (!ok) {
        if (abandoned > 0 || workerConn.status !== 'ready') log('warn', 'Redis did not answer: stopped without waiting for it', { abandoned, lockMs: o.lockMs ?? 30_000 });
        // BullMQ's close goes on waiting for Redis (a second, forced close only joins it) and keeps its timers until
        // then: the CLI exits anyway; an embedding process that must end exits itself.
      }
      await pool.close();
      quarantine.close();
      // Unregister so `status` stops counting this worker; not worth waiting for a Redis that is away.
      if (redis.status === 'ready') await within(1000, redis.multi().del(keys.worker(id), keys.drain(id)).zrem(keys.workers, id).exec());
      redis.disconnect();
      workerConn.disconnect();
      for (const c of allBlocking) c.disconnect();
      log('info', 'worker stopped', { ...stats, abandoned });
      emit({ type: 'stopped' });
      resolveClosed(abandoned);
      return abandoned;
    })());
  return { id, stats, close, closed };
}
