/**
 * What the dashboard shows, read from what the cluster already publishes: BullMQ's queue state, the workers'
 * heartbeats (ops/heartbeats.ts) and the run records (transport/redis/runs.ts). One poll a second, shared by every
 * open page, whatever their number; only reads (the reads `status --redis` makes, minus its clean-up of expired
 * heartbeat ids). Rates, ETAs, CPU use and the throughput history are worked out here from successive polls.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Priority } from '../../protocol/types.js';
import type { Keys } from '../../transport/redis/keys.js';
import { listRuns, readRuns, type RunFileError, type RunInfo } from '../../transport/redis/runs.js';
import { HEARTBEAT_MS, type HeldBatch } from '../../transport/redis/worker.js';
import { readHeartbeats, type WorkerRow } from '../heartbeats.js';
import { backlogByPriority } from '../redis.js';

/** A worker this long without a new heartbeat is shown as not answering (2.5 beats missed). */
const STALE_MS = 2.5 * HEARTBEAT_MS;
/** A worker whose heartbeat is gone stays listed, greyed, this long after its last beat. */
const GONE_MS = 60_000;
/** Rates of a run are taken over this much of its recent progress. */
const RATE_WINDOW_MS = 10_000;
/** The chart's points are rates over this window (a batch lands as one step: a shorter one would be all spikes). */
const POINT_WINDOW_MS = 5_000;
/** The chart's span. */
const HISTORY_MS = 15 * 60_000;
/** Runs the dashboard never saw running (done before it started, or in between two polls) are found this often. */
const RESCAN_MS = 30_000;
const MAX_RUNS = 30;
const MAX_ERRORS = 50;

export type QueueCounts = Record<'waiting' | 'active' | 'delayed' | 'failed' | 'completed', number>;

export interface QueueDepth {
  counts: QueueCounts;
  /** Batches waiting, by their run's priority. */
  byPriority: Record<Priority, number>;
  paused: boolean;
}

/** The queue's depth by state and by priority, and whether it is paused (the same reads as `status --redis`). */
export async function queueDepth(queue: Queue): Promise<QueueDepth> {
  const [raw, byPriority, paused] = await Promise.all([
    queue.getJobCounts('waiting', 'paused', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
    backlogByPriority(queue),
    queue.isPaused(),
  ]);
  // Every batch has a priority, so BullMQ keeps them in its `prioritized` set; `wait` and `paused` only hold jobs
  // enqueued without one.
  const waiting = (raw.waiting ?? 0) + (raw.paused ?? 0) + (raw.prioritized ?? 0);
  return { counts: { waiting, active: raw.active ?? 0, delayed: raw.delayed ?? 0, failed: raw.failed ?? 0, completed: raw.completed ?? 0 }, byPriority, paused };
}

export type WorkerStatus = 'alive' | 'draining' | 'stale' | 'gone';

export interface WorkerView extends Omit<WorkerRow, 'ageMs'> {
  status: WorkerStatus;
  /** Since its heartbeat last changed, by this process's clock (hosts' clocks may differ). */
  sinceBeatMs: number;
  /** CPU use between its last two heartbeats, in % of one core (a process of 2 busy threads shows ~200). */
  cpuPct: number | null;
}

export interface RunView extends Omit<RunInfo, 'recentErrors'> {
  filesPerSec: number;
  mbPerSec: number;
  /** Seconds left at the current rate; null when nothing moves or the run is over. */
  etaS: number | null;
  /** Which worker holds which of its batches now. */
  held: { worker: string; batches: HeldBatch[] }[];
}

export interface RecentError extends RunFileError {
  runId: string;
}

export interface Snapshot {
  at: number;
  namespace: string;
  /** Null when Redis answered this poll; the error otherwise (the rest is the last good view). */
  redisError: string | null;
  /** When Redis last answered (0: never): the time of the view. */
  readAt: number;
  queue: QueueDepth;
  workers: WorkerView[];
  runs: RunView[];
  errors: RecentError[];
  /** The latest throughput point. */
  rate: ThroughputPoint;
}

export interface ThroughputPoint {
  /** Epoch seconds (uPlot's unit). */
  t: number;
  filesPerSec: number;
  mbPerSec: number;
}

interface Seen {
  row: WorkerRow;
  /** Local time at which its current `beat` value was first seen. */
  beatSeenAt: number;
  /** The last two distinct heartbeats' CPU readings, for the rate. */
  prev: { beat: number; cpuMs: number } | null;
  cpuPct: number | null;
  gone: boolean;
}

interface Progress {
  t: number;
  files: number;
  bytes: number;
}

const EMPTY_DEPTH: QueueDepth = {
  counts: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 },
  byPriority: { urgent: 0, high: 0, normal: 0, low: 0 },
  paused: false,
};

/**
 * Polls the cluster and keeps the derived state. `subscribe` gets every new snapshot with its throughput point.
 * A poll that Redis does not answer keeps the last view and says why.
 */
export class ClusterWatch {
  private workers = new Map<string, Seen>();
  /** Per run, its progress over the rate window. */
  private progress = new Map<string, Progress[]>();
  private runs = new Map<string, RunInfo>();
  private lastRescan = 0;
  /** Files and bytes merged by every run since this process started, sampled at each poll. */
  private total: Progress[] = [];
  private totals = { files: 0, bytes: 0 };
  private readonly points: ThroughputPoint[] = [];
  private readonly listeners = new Set<(s: Snapshot, p: ThroughputPoint) => void>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<Snapshot> | null = null;
  private stopped = false;
  latest: Snapshot;

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly keys: Keys,
    private readonly intervalMs = 1000,
  ) {
    const at = Date.now();
    this.latest = { at, namespace: keys.ns, redisError: 'not polled yet', readAt: 0, queue: EMPTY_DEPTH, workers: [], runs: [], errors: [], rate: { t: at / 1000, filesPerSec: 0, mbPerSec: 0 } };
  }

  /** The throughput points of the last HISTORY_MS. */
  history(): ThroughputPoint[] {
    return [...this.points];
  }

  subscribe(fn: (s: Snapshot, p: ThroughputPoint) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Polls now and then every interval; resolves after the first poll. */
  async start(): Promise<void> {
    await this.poll();
    // Each poll starts once the previous one ended: a slow Redis gets fewer polls, never a pile of them.
    const next = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.poll().finally(next), this.intervalMs);
    };
    next();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  /** One poll; concurrent callers share it. */
  poll(): Promise<Snapshot> {
    return (this.polling ??= this.read()
      .catch((err: Error) => ({ ...this.latest, at: Date.now(), redisError: err.message }))
      .then((s) => {
        this.latest = s;
        const point = s.rate;
        for (const fn of this.listeners) fn(s, point);
        return s;
      })
      .finally(() => (this.polling = null)));
  }

  private async read(): Promise<Snapshot> {
    const now = Date.now();
    const rescan = now - this.lastRescan >= RESCAN_MS;
    const [queue, beats, inSet, scanned] = await Promise.all([
      queueDepth(this.queue),
      readHeartbeats(this.redis, this.keys),
      this.redis.smembers(this.keys.runs),
      rescan ? listRuns(this.redis, this.keys) : null,
    ]);
    if (scanned) {
      this.lastRescan = now;
      this.runs = new Map(scanned.map((r) => [r.runId, r]));
    } else {
      // The runs in progress, and those that were last time (a finished run leaves the set; its record stays).
      const ids = new Set([...inSet, ...[...this.runs.values()].filter((r) => r.state === 'running' || r.state === 'interrupted').map((r) => r.runId)]);
      for (const r of await readRuns(this.redis, this.keys, [...ids])) this.runs.set(r.runId, r);
    }
    const workers = this.trackWorkers(beats.rows, now);
    const runs = [...this.runs.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, MAX_RUNS);
    for (const id of this.runs.keys()) if (!runs.some((r) => r.runId === id)) this.runs.delete(id);
    const rate = this.throughput(runs, now);
    return {
      at: now,
      namespace: this.keys.ns,
      redisError: null,
      readAt: now,
      queue,
      workers,
      runs: runs.map((r) => this.runView(r, workers)),
      errors: runs
        .flatMap((r) => r.recentErrors.map((e) => ({ ...e, runId: r.runId })))
        .sort((a, b) => b.at - a.at)
        .slice(0, MAX_ERRORS),
      rate,
    };
  }

  private trackWorkers(rows: WorkerRow[], now: number): WorkerView[] {
    const live = new Set<string>();
    for (const row of rows) {
      live.add(row.id);
      const s = this.workers.get(row.id);
      if (!s || s.gone) {
        // First sight (or back after it vanished): its own clock says how old the beat is.
        this.workers.set(row.id, { row, beatSeenAt: now - Math.max(0, row.ageMs), prev: { beat: row.beat, cpuMs: row.cpuMs }, cpuPct: null, gone: false });
        continue;
      }
      if (row.beat !== s.row.beat) {
        if (s.prev && row.beat > s.prev.beat) s.cpuPct = Math.max(0, ((row.cpuMs - s.prev.cpuMs) / (row.beat - s.prev.beat)) * 100);
        s.prev = { beat: row.beat, cpuMs: row.cpuMs };
        s.beatSeenAt = now;
      }
      s.row = row;
    }
    const views: WorkerView[] = [];
    for (const [id, s] of this.workers) {
      if (!live.has(id)) s.gone = true;
      const sinceBeatMs = now - s.beatSeenAt;
      if (s.gone && sinceBeatMs > GONE_MS) {
        this.workers.delete(id);
        continue;
      }
      const status: WorkerStatus = s.gone ? 'gone' : sinceBeatMs >= STALE_MS ? 'stale' : s.row.state === 'draining' ? 'draining' : 'alive';
      const { ageMs: _age, ...row } = s.row;
      // A worker that stopped holds nothing, whatever its last heartbeat said.
      views.push({ ...row, jobs: status === 'gone' ? [] : row.jobs, status, sinceBeatMs, cpuPct: status === 'gone' ? null : s.cpuPct });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Adds this poll's progress of every run to the totals; the chart's point is their rate over POINT_WINDOW_MS. */
  private throughput(runs: RunInfo[], now: number): ThroughputPoint {
    for (const r of runs) {
      const samples = this.progress.get(r.runId) ?? [];
      const last = samples.at(-1);
      // Only what moved between two polls counts: a run first seen half-way is not a burst of its whole past.
      if (last && r.filesDone >= last.files && r.bytesDone >= last.bytes) {
        this.totals.files += r.filesDone - last.files;
        this.totals.bytes += r.bytesDone - last.bytes;
      }
      samples.push({ t: now, files: r.filesDone, bytes: r.bytesDone });
      while (samples.length > 2 && now - samples[1].t >= RATE_WINDOW_MS) samples.shift();
      this.progress.set(r.runId, samples);
    }
    for (const id of this.progress.keys()) if (!runs.some((r) => r.runId === id)) this.progress.delete(id);
    this.total.push({ t: now, ...this.totals });
    while (this.total.length > 2 && now - this.total[1].t >= POINT_WINDOW_MS) this.total.shift();
    const first = this.total[0];
    const secs = (now - first.t) / 1000;
    const point: ThroughputPoint = {
      t: now / 1000,
      filesPerSec: secs > 0 ? (this.totals.files - first.files) / secs : 0,
      mbPerSec: secs > 0 ? (this.totals.bytes - first.bytes) / 1e6 / secs : 0,
    };
    this.points.push(point);
    while (this.points.length && now / 1000 - this.points[0].t > HISTORY_MS / 1000) this.points.shift();
    return point;
  }

  private runView(r: RunInfo, workers: WorkerView[]): RunView {
    const { recentErrors: _errors, ...info } = r;
    const samples = this.progress.get(r.runId) ?? [];
    let filesPerSec = 0;
    let mbPerSec = 0;
    if (r.state === 'running' && samples.length >= 2) {
      const a = samples[0];
      const b = samples.at(-1)!;
      const secs = (b.t - a.t) / 1000;
      if (secs > 0) {
        filesPerSec = (b.files - a.files) / secs;
        mbPerSec = (b.bytes - a.bytes) / 1e6 / secs;
      }
    } else if (r.state === 'done' && r.seenAt > r.startedAt) {
      // Over: its average, from start to end.
      filesPerSec = r.filesDone / ((r.seenAt - r.startedAt) / 1000);
      mbPerSec = r.bytesDone / 1e6 / ((r.seenAt - r.startedAt) / 1000);
    }
    const left = r.bytes - r.bytesDone;
    const etaS = r.state === 'running' && mbPerSec > 0 ? Math.max(0, left / 1e6 / mbPerSec) : null;
    const held = workers
      .map((w) => ({ worker: w.id, batches: w.jobs.filter((j) => j.run === r.runId) }))
      .filter((h) => h.batches.length > 0);
    return { ...info, filesPerSec, mbPerSec, etaS, held };
  }
}
