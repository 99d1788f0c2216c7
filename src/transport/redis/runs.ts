/**
 * Cluster runs as Redis keeps them: the run record a coordinator writes (state, progress, its host, when it was last
 * seen, with a TTL), and what a run leaves in Redis (jobs, blobs, results). The functions behind
 * `mcp-index runs list|cancel|purge` and the dashboard's controls; no printing here (those format them).
 */
import { hostname } from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FileErrorSample, PipelineEvent } from '../../pipeline/events.js';
import { jsonArray } from '../../util/json.js';
import type { Keys } from './keys.js';

export type RunState = 'running' | 'interrupted' | 'failed' | 'cancelled' | 'done';

export interface RunInfo {
  runId: string;
  state: RunState;
  root: string;
  priority: string;
  merged: number;
  total: number;
  host: string;
  pid: number;
  startedAt: number;
  /** When its coordinator last wrote the record (every RECORD_BEAT_MS while it runs). */
  seenAt: number;
  /** Why it failed or was cancelled. */
  reason: string | null;
  /** Until the record expires (ms; -1: no TTL). */
  ttlMs: number;
  /** Files and bytes this run parses (planned), and those merged so far (a file isolated as a crash counts). */
  files: number;
  bytes: number;
  filesDone: number;
  bytesDone: number;
  /** Files with errors so far, by cause (`syntax`, `binary`, `worker-crash`...). */
  errorsByCode: Record<string, number>;
  /** The last RECENT_ERRORS per-file errors, newest first. */
  recentErrors: RunFileError[];
}

export interface RunFileError extends FileErrorSample {
  /** When the coordinator merged it (epoch ms). */
  at: number;
}

/** A record lives this long after its coordinator last wrote it, like the run's blobs and results. */
const RECORD_TTL_MS = 24 * 3600_000;
/** A finished run's record is kept this long for `status` and `runs list`. */
const DONE_TTL_MS = 3600_000;
const RECORD_BEAT_MS = 10_000;
/** A run whose coordinator wrote its record this recently is alive (it writes every RECORD_BEAT_MS). */
const LIVE_RUN_MS = 3 * RECORD_BEAT_MS;
/** Per-file errors a record keeps (the index has them all; this is for a live look). */
const RECENT_ERRORS = 50;
const ERROR_FIELD = 'err:';

/**
 * Writes the run record from the pipeline's events, and keeps it fresh while the run lasts. Informative only: a
 * failed write never stops a run (a Redis that refuses writes is caught by the run itself).
 */
export function recordRun(redis: Redis, keys: Keys, o: { root: string; priority: string }): { onEvent: (e: PipelineEvent) => void; stop: () => void } {
  let runId = '';
  let beat: NodeJS.Timeout | null = null;
  const quiet = (p: Promise<unknown>) => void p.catch(() => {});
  const stop = () => {
    if (beat) clearInterval(beat);
    beat = null;
  };
  // Newest first; the record holds them as one JSON field, rewritten only when a batch brings errors.
  let recent: RunFileError[] = [];
  /** Progress of one merged batch (or of one file isolated as a crash, `batch` false) in one round trip. */
  const merged = (files: number, bytes: number, errors: FileErrorSample[], batch: boolean) => {
    const m = redis.multi().hincrby(keys.run(runId), 'filesDone', files).hincrby(keys.run(runId), 'bytesDone', bytes);
    if (batch) m.hincrby(keys.run(runId), 'merged', 1);
    if (errors.length) {
      const byCode = new Map<string, number>();
      for (const f of errors) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1);
      for (const [code, n] of byCode) m.hincrby(keys.run(runId), ERROR_FIELD + code, n);
      const at = Date.now();
      recent = [...errors.map((f) => ({ ...f, message: f.message.slice(0, 300), at })).reverse(), ...recent].slice(0, RECENT_ERRORS);
      m.hset(keys.run(runId), 'recentErrors', JSON.stringify(recent));
    }
    quiet(m.exec());
  };
  const onEvent = (e: PipelineEvent) => {
    const key = runId ? keys.run(runId) : '';
    if (e.type === 'planned') {
      runId = e.runId;
      recent = [];
      const now = String(Date.now());
      const record = {
        state: 'running', root: o.root, priority: o.priority, total: String(e.batches), merged: '0', files: String(e.files), bytes: String(e.bytes),
        filesDone: '0', bytesDone: '0', started: now, seen: now, host: hostname(), pid: String(process.pid), reason: '',
      };
      quiet(redis.multi().hset(keys.run(runId), record).pexpire(keys.run(runId), RECORD_TTL_MS).sadd(keys.runs, runId).exec());
      beat = setInterval(() => quiet(redis.multi().hset(keys.run(runId), 'seen', String(Date.now())).pexpire(keys.run(runId), RECORD_TTL_MS).exec()), RECORD_BEAT_MS);
      beat.unref();
    } else if (!runId) {
      return;
    } else if (e.type === 'batch-done') {
      merged(e.batch.files, e.batch.bytes, e.fileErrors, true);
    } else if (e.type === 'batch-failed' && e.action === 'file-error') {
      // The file its batch kept crashing on is recorded as a worker-crash error (dispatch.ts).
      merged(e.batch.files, e.batch.bytes, [{ path: e.batch.firstPath, code: 'worker-crash', message: e.error }], false);
    } else if (e.type === 'interrupt') {
      quiet(redis.hset(key, 'state', 'interrupted'));
    } else if (e.type === 'failed') {
      stop();
      // A cancelled run's record already says so.
      if (!e.cancelled) quiet(redis.hset(key, { state: 'failed', reason: e.reason, seen: String(Date.now()) }));
    } else if (e.type === 'done') {
      stop();
      // An interrupted run stays listed for a rerun to resume (or `runs purge` to drop); a finished one is kept an hour.
      if (e.summary.interrupted) quiet(redis.hset(key, { state: 'interrupted', seen: String(Date.now()) }));
      else quiet(redis.multi().hset(key, { state: 'done', seen: String(Date.now()) }).srem(keys.runs, runId).pexpire(key, DONE_TTL_MS).exec());
    }
  };
  return { onEvent, stop };
}

/** Runs with a record, newest first. Ids in the run set whose record expired are left out. */
export async function listRuns(redis: Redis, keys: Keys): Promise<RunInfo[]> {
  const ids = new Set(await redis.smembers(keys.runs));
  for (const key of await scanKeys(redis, `${keys.run('')}*`)) ids.add(key.slice(keys.run('').length));
  return readRuns(redis, keys, [...ids]);
}

/** The records of these runs, newest first (read at once, not one round trip each); expired ones are left out. */
export async function readRuns(redis: Redis, keys: Keys, ids: readonly string[]): Promise<RunInfo[]> {
  const read = await Promise.all(ids.map((runId) => Promise.all([redis.hgetall(keys.run(runId)), redis.pttl(keys.run(runId))])));
  const runs: RunInfo[] = [];
  ids.forEach((runId, i) => {
    const [h, ttl] = read[i];
    if (!h.state && !h.started) return; // expired (or not a run record)
    const errorsByCode: Record<string, number> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith(ERROR_FIELD)) errorsByCode[k.slice(ERROR_FIELD.length)] = Number(v);
    runs.push({
      runId,
      state: (h.state as RunState) || 'running', // written before states existed
      root: h.root ?? '?',
      priority: h.priority ?? '?',
      merged: Number(h.merged ?? 0),
      total: Number(h.total ?? 0),
      host: h.host ?? '?',
      pid: Number(h.pid ?? 0),
      startedAt: Number(h.started ?? 0),
      seenAt: Number(h.seen ?? h.started ?? 0),
      reason: h.reason || null,
      ttlMs: ttl,
      // Records written before these fields existed read as zero.
      files: Number(h.files ?? 0),
      bytes: Number(h.bytes ?? 0),
      filesDone: Number(h.filesDone ?? 0),
      bytesDone: Number(h.bytesDone ?? 0),
      errorsByCode,
      recentErrors: jsonArray<RunFileError>(h.recentErrors),
    });
  });
  return runs.sort((a, b) => b.startedAt - a.startedAt);
}

export interface Removed {
  jobs: number;
  /** Jobs a worker holds right now: left in place (they finish, and a later purge removes them). */
  busy: number;
  blobs: number;
  results: number;
}

/** Removes what a run left in Redis: its queued, finished and failed jobs, its blobs and its results. */
export async function removeRunData(redis: Redis, queue: Queue, keys: Keys, runId: string): Promise<Removed> {
  const out: Removed = { jobs: 0, busy: 0, blobs: 0, results: 0 };
  const where = keys.runData(runId);
  for (const id of new Set((await scanKeys(redis, where.jobs)).map((k) => keys.jobOf(k)))) {
    if ((await queue.remove(id)) === 1) out.jobs++;
    else out.busy++;
  }
  out.blobs = await deleteKeys(redis, await scanKeys(redis, where.blobs));
  out.results = await deleteKeys(redis, await scanKeys(redis, where.results));
  return out;
}

/**
 * Cancels a run: its record says so (a live coordinator of the run sees it within seconds and stops without
 * committing), and its data is removed. False when there is no such run. `by` says where (shown by the coordinator).
 */
export async function cancelRun(redis: Redis, queue: Queue, keys: Keys, runId: string, by = 'mcp-index runs cancel'): Promise<(Removed & { found: true }) | { found: false }> {
  const exists = (await redis.exists(keys.run(runId))) === 1 || (await scanKeys(redis, keys.runData(runId).jobs, 1)).length > 0;
  if (!exists) return { found: false };
  await redis.multi().hset(keys.run(runId), { state: 'cancelled', reason: `cancelled (${by})`, cancelledBy: by, seen: String(Date.now()) }).pexpire(keys.run(runId), RECORD_TTL_MS).exec();
  return { found: true, ...(await removeRunData(redis, queue, keys, runId)) };
}

/** As coordinator.ts retries a failed job: without the resets BullMQ keeps attemptsMade at the limit. */
const RETRY_AFRESH = { resetAttemptsMade: true, resetAttemptsStarted: true } as const;

/** What a retry of failed jobs did. */
export interface Retried {
  retried: number;
  /** Failed jobs of a run whose coordinator is alive: it has already split them to isolate the bad file. */
  skipped: number;
}

/**
 * Gives every failed batch job a fresh set of attempts, as a rerun of its run does (coordinator.ts `submit`), so
 * that workers redo them now (after a full Redis was given memory, say) and a resumed run finds them done. The
 * failed jobs of a run whose coordinator is alive are left alone: it has split each of them already, and a retry
 * would only run the batch that crashed a worker again.
 */
export async function retryFailedJobs(redis: Redis, queue: Queue, keys: Keys): Promise<Retried> {
  const out: Retried = { retried: 0, skipped: 0 };
  const failed = await queue.getFailed();
  const runIds = [...new Set(failed.map((j) => (j.data as { runId?: unknown })?.runId).filter((id): id is string => typeof id === 'string'))];
  const now = Date.now();
  const live = new Set((await readRuns(redis, keys, runIds)).filter((r) => r.state === 'running' && now - r.seenAt < LIVE_RUN_MS).map((r) => r.runId));
  for (const job of failed) {
    if (live.has((job.data as { runId?: string })?.runId ?? '')) out.skipped++;
    else {
      await job.retry('failed', RETRY_AFRESH);
      out.retried++;
    }
  }
  return out;
}

/**
 * Removes abandoned runs, record and data: runs not done whose coordinator was last seen `olderThanMs` ago or more
 * (killed or lost while running; interrupted and never resumed; failed or cancelled), plus data left by runs that
 * have no record at all.
 */
export async function purgeRuns(redis: Redis, queue: Queue, keys: Keys, o: { olderThanMs: number }): Promise<{ runs: string[] } & Removed> {
  const total: Removed = { jobs: 0, busy: 0, blobs: 0, results: 0 };
  const now = Date.now();
  const known = await listRuns(redis, keys);
  const abandoned = known.filter((r) => r.state !== 'done' && now - r.seenAt >= o.olderThanMs).map((r) => r.runId);
  // Data whose run has no record (it expired, or was never written).
  const recorded = new Set(known.map((r) => r.runId));
  const orphans = new Set<string>();
  for (const pattern of Object.values(keys.runData('*'))) {
    for (const key of await scanKeys(redis, pattern)) {
      const id = keys.runOf(key);
      if (id && !recorded.has(id)) orphans.add(id);
    }
  }
  const runs = [...new Set([...abandoned, ...orphans])];
  for (const runId of runs) {
    const r = await removeRunData(redis, queue, keys, runId);
    for (const k of Object.keys(total) as (keyof Removed)[]) total[k] += r[k];
    await redis.multi().del(keys.run(runId)).srem(keys.runs, runId).exec();
  }
  return { runs, ...total };
}

/** Every key matching `pattern` (SCAN: never blocks Redis like KEYS). `limit` stops early. */
async function scanKeys(redis: Redis, pattern: string, limit = Infinity): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0' && found.length < limit);
  return found;
}

async function deleteKeys(redis: Redis, keys: string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += 500) n += await redis.del(...keys.slice(i, i + 500));
  return n;
}
