/**
 * Cluster runs as Redis keeps them: the run record a coordinator writes (state, progress, its host, when it was last
 * seen, with a TTL), and what a run leaves in Redis (jobs, blobs, results). The functions behind
 * `mcp-index runs list|cancel|purge`; no printing here (the CLI and, later, the dashboard format them).
 */
import { hostname } from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PipelineEvent } from '../../pipeline/events.js';
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
}

/** A record lives this long after its coordinator last wrote it, like the run's blobs and results. */
const RECORD_TTL_MS = 24 * 3600_000;
/** A finished run's record is kept this long for `status` and `runs list`. */
const DONE_TTL_MS = 3600_000;
const RECORD_BEAT_MS = 10_000;

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
  const onEvent = (e: PipelineEvent) => {
    const key = runId ? keys.run(runId) : '';
    if (e.type === 'planned') {
      runId = e.runId;
      const now = String(Date.now());
      const record = { state: 'running', root: o.root, priority: o.priority, total: String(e.batches), merged: '0', started: now, seen: now, host: hostname(), pid: String(process.pid), reason: '' };
      quiet(redis.multi().hset(keys.run(runId), record).pexpire(keys.run(runId), RECORD_TTL_MS).sadd(keys.runs, runId).exec());
      beat = setInterval(() => quiet(redis.multi().hset(keys.run(runId), 'seen', String(Date.now())).pexpire(keys.run(runId), RECORD_TTL_MS).exec()), RECORD_BEAT_MS);
      beat.unref();
    } else if (!runId) {
      return;
    } else if (e.type === 'batch-done') {
      quiet(redis.hincrby(key, 'merged', 1));
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
  const runs: RunInfo[] = [];
  for (const runId of ids) {
    const [h, ttl] = await Promise.all([redis.hgetall(keys.run(runId)), redis.pttl(keys.run(runId))]);
    if (!h.state && !h.started) continue; // expired (or not a run record)
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
    });
  }
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
 * committing), and its data is removed. False when there is no such run.
 */
export async function cancelRun(redis: Redis, queue: Queue, keys: Keys, runId: string): Promise<(Removed & { found: true }) | { found: false }> {
  const exists = (await redis.exists(keys.run(runId))) === 1 || (await scanKeys(redis, keys.runData(runId).jobs, 1)).length > 0;
  if (!exists) return { found: false };
  await redis.multi().hset(keys.run(runId), { state: 'cancelled', reason: 'cancelled with `mcp-index runs cancel`', seen: String(Date.now()) }).pexpire(keys.run(runId), RECORD_TTL_MS).exec();
  return { found: true, ...(await removeRunData(redis, queue, keys, runId)) };
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
