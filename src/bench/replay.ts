/**
 * The fan-in measurement: how many worker threads one coordinator keeps busy, measured rather than modelled.
 *
 * Precomputed batch results (the real encoded fragments of this tree) are replayed by K simulated worker threads
 * (replay-worker.ts: real BullMQ workers in other processes, on the real queue, each answering a batch after the
 * worker's measured per-batch time, without parsing) into one real coordinator in this process: the Redis transport,
 * the codec, the dispatcher and the store, exactly as `mcp-index --cluster` runs them. Batches per second against
 * K show where the coordinator stops keeping up; the limit in threads is that rate times the worker's time.
 *
 * For more batches than the tree has, its batches are replayed in rounds under other paths (`r1/...`), so every
 * merged row is a new row, as in a bigger tree. Round 0 is the tree itself: a replay of one round builds the same
 * index as `mcp-index TREE`, which the test suite checks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { EXTRACTOR_VERSION } from '../extract/version.js';
import { IndexStore } from '../index-store/store.js';
import { dispatch } from '../pipeline/dispatch.js';
import { batchId as idOfFiles } from '../plan/plan.js';
import type { BatchHeader, JobRequest } from '../protocol/types.js';
import { RedisTransport } from '../transport/redis/coordinator.js';
import { encodeBatch } from '../transport/redis/codec.js';
import { createRedis } from '../transport/redis/connection.js';
import { round } from './report.js';

const WORKER_SCRIPT = fileURLToPath(new URL('../../dist/bench/replay-worker.js', import.meta.url));

/** One batch of the tree: its request, header and fragment bytes. */
export interface ReplayBatch {
  request: JobRequest;
  header: BatchHeader;
  fragment: Buffer;
}

export interface ReplayOptions {
  redis: string;
  /** Where the tree lives (the coordinator's --root) and where the replay keeps its indexes and results. */
  root: string;
  dir: string;
  batches: ReplayBatch[];
  mtimes: ReadonlyMap<string, number>;
  /** What one worker thread spends on a batch (measured in the same bench run). */
  workerMs: number;
  /** Simulated worker threads, one measurement each. */
  ks: number[];
  /** Batches replayed at K threads (default: 12 K, at least 24). */
  batchesAt?: (k: number) => number;
  log?: (line: string) => void;
  /** Keep each point's index (tests compare it with a local index). */
  keepIndexes?: boolean;
}

export interface ReplayPoint {
  /** Simulated worker threads. */
  k: number;
  batches: number;
  wallMs: number;
  /** Merged batches per second, from the K-th merge to the last (the ramp-up left out). */
  batchesPerSec: number;
  /** What K threads would produce if the coordinator cost nothing: K / worker time. */
  idealBatchesPerSec: number;
  /** batchesPerSec / idealBatchesPerSec. */
  efficiency: number;
  /**
   * Share of the time each coordinator thread was busy (event loop utilisation): the main thread (Redis client,
   * BullMQ, dispatch) and the store's writer thread (the SQLite merge, and search rows while it has time to spare).
   */
  mainBusy: number;
  writerBusy: number;
  /** Busy time of each, per batch. */
  mainMsPerBatch: number;
  writerMsPerBatch: number;
  /** Of the writer's busy time, what was CPU; the rest is waiting, on its disk (WAL writes, checkpoints) or the OS. */
  writerCpuMsPerBatch: number | null;
  /** CPU of the coordinator process per batch: both threads, and libuv's decompression and spool writes. */
  coordinatorCpuMsPerBatch: number;
  /** Redis server CPU per batch (INFO cpu). */
  redisCpuMsPerBatch: number;
  redisCallsPerBatch: number;
  /** The store's commit after the last batch: deferred search rows, secondary indexes, rename. */
  commitMs: number;
  /** The index the point built (kept only with keepIndexes). */
  index: string;
}

export interface ReplayReport {
  workerMsPerBatch: number;
  cores: number;
  points: ReplayPoint[];
  /** Highest measured rate, and the worker threads it keeps busy: rate x worker time. */
  maxBatchesPerSec: number;
  coordinatorLimitThreads: number;
  /** True when even the largest K ran at 90 % of its ideal: the limit is then at least what was measured. */
  limitIsLowerBound: boolean;
  /** The smallest K below 90 % of its ideal rate (null: none). */
  saturationK: number | null;
  /** What the measurements say holds the rate at its maximum. */
  limitedBy: string;
}

/** A fragment's bytes with every path under `prefix` (a round of the replay). */
function renamed(fragment: Buffer, prefix: string): Buffer {
  const db = new Database(fragment);
  try {
    db.prepare('UPDATE files SET path = ? || path').run(prefix);
    return db.serialize();
  } finally {
    db.close();
  }
}

async function redisCounters(redis: Redis): Promise<{ cpuMs: number; calls: number }> {
  const [cpu, cmd] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
  const sec = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  let calls = 0;
  for (const m of cmd.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(m[1]);
  return { cpuMs: (sec('used_cpu_user') + sec('used_cpu_sys')) * 1000, calls };
}

function startWorkers(o: ReplayOptions, ns: string, results: string, k: number): Promise<ChildProcess[]> {
  // A few processes share the K simulated threads: each is mostly asleep, and on a small machine more processes
  // only take cores from the coordinator and Redis.
  const procs = Math.min(k, 4);
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < procs; i++) {
    const concurrency = Math.floor(k / procs) + (i < k % procs ? 1 : 0);
    const child = spawn(process.execPath, [WORKER_SCRIPT, '--redis', o.redis, '--namespace', ns, '--concurrency', String(concurrency), '--worker-ms', String(o.workerMs), '--results', results], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    ready.push(
      new Promise((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`replay worker exited (${code}) before it was ready: ${err.trim()}`)));
      }),
    );
  }
  return Promise.all(ready).then(
    () => children,
    (e) => {
      for (const c of children) c.kill('SIGKILL');
      throw e;
    },
  );
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => (clearTimeout(t), resolve()));
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** Removes a namespace's keys (BullMQ's queue, events, results) from a Redis that may be shared. */
export async function dropNamespace(redis: Redis, ns: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${ns}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
}

/** The requests and encoded results of `n` batches: the tree's, then rounds of it under other paths. */
function roundsOf(o: ReplayOptions, runId: string, n: number): { requests: JobRequest[]; results: Map<string, Buffer>; mtimes: Map<string, number> } {
  const requests: JobRequest[] = [];
  const results = new Map<string, Buffer>();
  const mtimes = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const b = o.batches[i % o.batches.length];
    const r = Math.floor(i / o.batches.length);
    const prefix = r === 0 ? '' : `r${r}/`;
    const batchId = r === 0 ? b.request.batchId : `${b.request.batchId}-r${r}`;
    const request = { ...b.request, runId, batchId, files: b.request.files.map((f) => ({ ...f, path: prefix + f.path })) };
    requests.push(request);
    for (const f of b.request.files) mtimes.set(prefix + f.path, o.mtimes.get(f.path) ?? 0);
    const header = { ...b.header, runId, batchId, parsed: idOfFiles(request.files) };
    results.set(batchId, encodeBatch(header, r === 0 ? b.fragment : renamed(b.fragment, prefix)));
  }
  return { requests, results, mtimes };
}

async function replayPoint(o: ReplayOptions, redis: Redis, k: number): Promise<ReplayPoint> {
  const n = Math.max(1, o.batchesAt ? o.batchesAt(k) : Math.max(24, 12 * k));
  const ns = `replay-${randomBytes(4).toString('hex')}`;
  const runId = `replay${k}`;
  const dir = join(o.dir, `k${k}`);
  rmSync(dir, { recursive: true, force: true });
  const resultsDir = join(dir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const { requests, results, mtimes } = roundsOf(o, runId, n);
  for (const [id, buf] of results) writeFileSync(join(resultsDir, `${id}.bin`), buf);

  const children = await startWorkers(o, ns, resultsDir, k);
  const transport = await RedisTransport.create({ url: o.redis, namespace: ns, root: o.root, window: Math.max(32, 2 * k), cacheBytes: 0 });
  const out = join(dir, 'index.db');
  const store = IndexStore.open(out, { extractorVersion: EXTRACTOR_VERSION, full: true });
  try {
    // As `mcp-index --cluster` does: a resumable build (each batch durable), its writer on a thread of its own.
    await store.begin({ mtimes, background: true, resumeKey: runId });
    const merged: number[] = [];
    const before = await redisCounters(redis);
    const elu0 = performance.eventLoopUtilization();
    const writer0 = store.writerUtilization()!;
    const writerCpu0 = await store.writerCpuMs();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await dispatch(requests, {
      transport,
      signal: new AbortController().signal,
      emit: () => {},
      priority: 'normal',
      apply: async (res) => {
        await store.apply(res.batchId, res.fragments);
        merged.push(performance.now());
      },
      applyFileError: (f) => {
        throw new Error(`replayed batch failed (${f.path}): the replay must merge every batch`);
      },
      toRequest: () => {
        throw new Error('a replayed batch was split');
      },
    });
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const writer = store.writerUtilization(writer0)!;
    const writerCpu1 = await store.writerCpuMs();
    const after = await redisCounters(redis);
    for (const r of requests) await transport.ack(r);
    const t1 = performance.now();
    await store.commit({ root: o.root, summary: { replay: { k, batches: n } }, contentIndex: false });
    const commitMs = performance.now() - t1;

    // Steady state: from the K-th merge (every simulated thread has delivered once) to the last.
    const from = Math.min(k, merged.length - 1);
    const span = merged[merged.length - 1] - (from > 0 ? merged[from - 1] : t0);
    const steady = merged.length - from;
    const batchesPerSec = span > 0 ? (steady * 1000) / span : (merged.length * 1000) / wallMs;
    const ideal = (k * 1000) / o.workerMs;
    return {
      k,
      batches: merged.length,
      wallMs: round(wallMs, 1),
      batchesPerSec: round(batchesPerSec, 1),
      idealBatchesPerSec: round(ideal, 1),
      efficiency: round(batchesPerSec / ideal, 3),
      mainBusy: round(elu.utilization, 3),
      writerBusy: round(writer.utilization, 3),
      mainMsPerBatch: round(elu.active / n, 3),
      writerMsPerBatch: round(writer.active / n, 3),
      writerCpuMsPerBatch: writerCpu0 === null || writerCpu1 === null ? null : round((writerCpu1 - writerCpu0) / n, 3),
      coordinatorCpuMsPerBatch: round((cpu.user + cpu.system) / 1000 / n, 3),
      redisCpuMsPerBatch: round((after.cpuMs - before.cpuMs) / n, 3),
      redisCallsPerBatch: round((after.calls - before.calls) / n, 1),
      commitMs: round(commitMs, 1),
      index: o.keepIndexes ? out : '',
    };
  } catch (err) {
    await store.abort();
    throw err;
  } finally {
    await transport.close();
    await stopWorkers(children);
    await dropNamespace(redis, ns).catch(() => {});
    if (!o.keepIndexes) rmSync(dir, { recursive: true, force: true });
    else rmSync(resultsDir, { recursive: true, force: true });
  }
}

/** Replays at every K and reads the limit off the curve. */
export async function replayFanIn(o: ReplayOptions): Promise<ReplayReport> {
  const redis = createRedis({ url: o.redis });
  redis.on('error', () => {});
  const points: ReplayPoint[] = [];
  try {
    for (const k of o.ks) {
      const p = await replayPoint(o, redis, k);
      o.log?.(`bench: replay, ${k} simulated worker thread(s): ${p.batches} batches, ${p.batchesPerSec} batches/s (ideal ${p.idealBatchesPerSec}), coordinator busy: main thread ${Math.round(p.mainBusy * 100)} %, writer ${Math.round(p.writerBusy * 100)} %`);
      points.push(p);
    }
  } finally {
    redis.disconnect();
  }
  return summarizeReplay(o.workerMs, points);
}

/** The limit and what holds it, from the measured points alone. */
export function summarizeReplay(workerMs: number, points: ReplayPoint[]): ReplayReport {
  const best = points.reduce((a, b) => (b.batchesPerSec > a.batchesPerSec ? b : a), points[0]);
  const saturated = points.find((p) => p.efficiency < 0.9) ?? null;
  const largest = points.reduce((a, b) => (b.k > a.k ? b : a), points[0]);
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  const redisShare = (best.redisCpuMsPerBatch * best.batchesPerSec) / 1000;
  const coordShare = (best.coordinatorCpuMsPerBatch * best.batchesPerSec) / 1000;
  let limitedBy: string;
  if (!saturated) limitedBy = `nothing up to ${largest.k} threads: every point ran at 90 % or more of its ideal rate`;
  else if (best.writerBusy >= 0.9) {
    const cpu = best.writerCpuMsPerBatch;
    const waits = cpu !== null && cpu < 0.7 * best.writerMsPerBatch;
    limitedBy = `the store's writer thread (busy ${pct(best.writerBusy)}, ${best.writerMsPerBatch} ms a batch${cpu !== null ? `, of which ${cpu} ms CPU` : ''}: ${waits ? 'mostly waiting on its disk (WAL writes, checkpoints) or for a core' : 'the SQLite merge'})`;
  }
  else if (best.mainBusy >= 0.9) limitedBy = `the coordinator's main thread (busy ${pct(best.mainBusy)}, ${best.mainMsPerBatch} ms a batch: Redis client, BullMQ, dispatch)`;
  else if (redisShare >= 0.9) limitedBy = `Redis (${pct(redisShare)} of a core)`;
  else limitedBy = `the machine's ${availableParallelism()} cores and disk, shared by the coordinator (${pct(coordShare)} of a core: main thread busy ${pct(best.mainBusy)}, writer ${pct(best.writerBusy)}), Redis (${pct(redisShare)}) and the simulated workers`;
  return {
    workerMsPerBatch: workerMs,
    cores: availableParallelism(),
    points,
    maxBatchesPerSec: best.batchesPerSec,
    coordinatorLimitThreads: round((best.batchesPerSec * workerMs) / 1000, 1),
    limitIsLowerBound: !saturated,
    saturationK: saturated?.k ?? null,
    limitedBy,
  };
}
