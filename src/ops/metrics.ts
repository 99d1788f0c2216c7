/**
 * Prometheus metrics of the coordinator, of workers and of the `up` supervisor: one Registry per process (never the
 * global one, so an embedder's own metrics are left alone), default process metrics, and only low-cardinality labels
 * (priority, outcome, role): never a file, job, batch or run id.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PipelineEvent } from '../pipeline/events.js';
import { within } from '../util/time.js';
import { backlogByPriority, PROBE_TIMEOUT_MS } from './redis.js';
import type { WorkerEvent } from '../transport/redis/worker.js';

export type Role = 'coordinator' | 'worker' | 'supervisor';

export const PREFIX = 'mcp_index_';

/** Batch processing time on a worker: a few files take milliseconds, a big batch on a busy host minutes. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Time a batch sat in the queue: from nothing (idle workers) to long (a big run at low priority). */
const WAIT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function createRegistry(role: Role, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/** The counters both sides keep, under the same names (so one dashboard sums them across processes). */
function common(registry: Registry) {
  return {
    finished: new Counter({
      name: `${PREFIX}jobs_finished_total`,
      help: 'Batches finished, by priority and outcome (coordinator: done|split|file-error; worker: done|failed|rejected|released)',
      labelNames: ['priority', 'outcome'] as const,
      registers: [registry],
    }),
    files: new Counter({ name: `${PREFIX}files_indexed_total`, help: 'Files parsed and indexed', registers: [registry] }),
    bytes: new Counter({ name: `${PREFIX}bytes_indexed_total`, help: 'Bytes of source parsed and indexed', registers: [registry] }),
    symbols: new Counter({ name: `${PREFIX}symbols_total`, help: 'Symbols extracted', registers: [registry] }),
    duration: new Histogram({
      name: `${PREFIX}job_duration_seconds`,
      help: 'Processing time of one batch: on a worker from start to stored result; on the coordinator the parse time its result reports',
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
  };
}

/** Coordinator metrics, fed by the pipeline's events (the same ones the progress display reads). */
export class CoordinatorMetrics {
  private readonly c;
  private readonly enqueued: Counter<'priority'>;
  private readonly retries: Counter;
  private readonly stalls: Counter;
  private readonly fileErrors: Counter;
  private readonly inFlight: Gauge;
  private readonly runs: Counter<'outcome'>;
  private readonly runSeconds: Histogram;
  private readonly latency: Histogram;
  readonly workersAlive: Gauge;
  private readonly started = new Map<number, number>();

  constructor(
    readonly registry: Registry,
    private readonly priority: string,
    /** Cluster mode: the live worker count, asked at each scrape. */
    workersAlive?: () => Promise<number>,
  ) {
    this.c = common(registry);
    this.enqueued = new Counter({ name: `${PREFIX}jobs_enqueued_total`, help: 'Batches handed to the transport (queued on Redis in cluster mode), by priority', labelNames: ['priority'], registers: [registry] });
    this.retries = new Counter({ name: `${PREFIX}retries_total`, help: 'Batch attempts beyond the first (transport retries), counted when a run ends', registers: [registry] });
    this.stalls = new Counter({ name: `${PREFIX}stalls_total`, help: 'Batches taken back from a worker that stopped renewing its lease, counted when a run ends', registers: [registry] });
    this.fileErrors = new Counter({ name: `${PREFIX}file_errors_total`, help: 'Files indexed with an error or as partial (syntax errors)', registers: [registry] });
    this.inFlight = new Gauge({ name: `${PREFIX}batches_in_flight`, help: 'Batches handed out and not yet merged', registers: [registry] });
    this.runs = new Counter({ name: `${PREFIX}runs_total`, help: 'Index runs finished, by outcome (ok|interrupted|failed)', labelNames: ['outcome'], registers: [registry] });
    this.runSeconds = new Histogram({ name: `${PREFIX}run_duration_seconds`, help: 'Wall time of a whole index run', buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400], registers: [registry] });
    this.latency = new Histogram({ name: `${PREFIX}batch_latency_seconds`, help: 'Time from handing a batch out to merging its result (queue wait + transfer + processing)', buckets: WAIT_BUCKETS, registers: [registry] });
    this.workersAlive = new Gauge({
      name: `${PREFIX}workers_alive`,
      help: 'Workers with a live heartbeat in Redis (cluster mode)',
      registers: [registry],
      ...(workersAlive
        ? {
            async collect() {
              this.set(await workersAlive());
            },
          }
        : {}),
    });
    // Zero-valued series exist from the start, so rate() and absent() behave before the first batch.
    this.enqueued.inc({ priority }, 0);
    this.c.finished.inc({ priority, outcome: 'done' }, 0);
  }

  onEvent(e: PipelineEvent): void {
    const priority = this.priority;
    switch (e.type) {
      case 'batch-start':
        this.enqueued.inc({ priority });
        this.inFlight.inc();
        this.started.set(e.batch.slot, performance.now());
        break;
      case 'batch-done': {
        this.inFlight.dec();
        this.c.finished.inc({ priority, outcome: 'done' });
        this.c.files.inc(e.batch.files);
        this.c.bytes.inc(e.batch.bytes);
        this.c.symbols.inc(e.symbols);
        this.fileErrors.inc(e.errors);
        this.c.duration.observe(e.durationMs / 1000);
        const t = this.started.get(e.batch.slot);
        if (t !== undefined) this.latency.observe((performance.now() - t) / 1000);
        this.started.delete(e.batch.slot);
        break;
      }
      case 'batch-failed':
        this.inFlight.dec();
        this.started.delete(e.batch.slot);
        this.c.finished.inc({ priority, outcome: e.action });
        if (e.action === 'file-error') this.fileErrors.inc(e.batch.files);
        break;
      case 'done':
        this.retries.inc(e.summary.run.retries);
        this.stalls.inc(e.summary.run.stalls);
        this.runs.inc({ outcome: e.summary.interrupted ? 'interrupted' : 'ok' });
        this.runSeconds.observe(e.summary.timings.totalMs / 1000);
        this.inFlight.set(0);
        break;
      case 'failed':
        this.runs.inc({ outcome: 'failed' });
        this.inFlight.set(0);
        break;
    }
  }
}

/**
 * Worker metrics, fed by `startWorker`'s events. The events carry no priority: `priorityOf(runId)` supplies it
 * (the run record in Redis has it), and until it answers the label is "unknown".
 */
export class WorkerMetrics {
  private readonly c;
  private readonly queueWait: Histogram;
  private readonly active: Gauge;
  private readonly started: Counter;
  private readonly draining: Gauge;
  /** jobId -> runId of batches in progress (job-failed carries no runId). */
  private readonly runs = new Map<string, string>();

  constructor(
    readonly registry: Registry,
    private readonly priorityOf: (runId: string) => Promise<string> = async () => 'unknown',
  ) {
    this.c = common(registry);
    this.queueWait = new Histogram({ name: `${PREFIX}queue_wait_seconds`, help: 'Time from enqueue to a worker starting the batch', buckets: WAIT_BUCKETS, registers: [registry] });
    this.active = new Gauge({ name: `${PREFIX}jobs_active`, help: 'Batches this worker is processing now', registers: [registry] });
    this.started = new Counter({ name: `${PREFIX}jobs_started_total`, help: 'Batches this worker started (a redelivered batch counts again)', registers: [registry] });
    this.draining = new Gauge({ name: `${PREFIX}worker_draining`, help: '1 while the worker drains after SIGTERM (takes no new batches)', registers: [registry] });
  }

  /** Resolves once every counter update of the events seen so far is applied (priority look-ups are async). */
  private pending: Promise<unknown> = Promise.resolve();
  settled(): Promise<unknown> {
    return this.pending;
  }

  private withPriority(runId: string | undefined, f: (priority: string) => void): void {
    const p = (runId ? this.priorityOf(runId).catch(() => 'unknown') : Promise.resolve('unknown')).then(f);
    this.pending = Promise.all([this.pending, p]);
  }

  onEvent(e: WorkerEvent): void {
    switch (e.type) {
      case 'job-start':
        this.runs.set(e.jobId, e.runId);
        this.started.inc();
        this.active.inc();
        this.queueWait.observe(e.queueWaitMs / 1000);
        void this.priorityOf(e.runId).catch(() => 'unknown'); // warm the look-up before the batch ends
        break;
      case 'job-done':
        this.runs.delete(e.jobId);
        this.active.dec();
        this.c.files.inc(e.files);
        this.c.bytes.inc(e.bytes);
        this.c.symbols.inc(e.symbols);
        this.c.duration.observe(e.durationMs / 1000);
        this.withPriority(e.runId, (priority) => this.c.finished.inc({ priority, outcome: 'done' }));
        break;
      case 'job-failed': {
        // A rejected (malformed) job never started.
        const runId = this.runs.get(e.jobId);
        if (runId !== undefined) {
          this.runs.delete(e.jobId);
          this.active.dec();
        }
        this.withPriority(runId, (priority) => this.c.finished.inc({ priority, outcome: e.outcome }));
        break;
      }
      case 'draining':
        this.draining.set(1);
        break;
      case 'stopped':
        this.active.set(0);
        break;
    }
  }
}

const USED_MEMORY = /^used_memory:(\d+)/m;
const MAX_MEMORY = /^maxmemory:(\d+)/m;

/**
 * The cluster as a whole, read from Redis at each scrape: the queue's backlog by priority (what to autoscale on) and
 * Redis's memory. Served by `up` and by a worker running on its own; each reports the same figures, so a dashboard
 * takes their max(), not their sum().
 */
export class ClusterGauges {
  readonly backlog: Gauge;
  readonly redisMemory: Gauge;
  readonly redisMaxMemory: Gauge;

  constructor(registry: Registry) {
    this.backlog = new Gauge({ name: `${PREFIX}queue_waiting_batches`, help: 'Batches waiting on the shared queue, by priority (what to autoscale on)', labelNames: ['priority'], registers: [registry] });
    this.redisMemory = new Gauge({ name: `${PREFIX}redis_memory_used_bytes`, help: "Redis's used_memory (INFO memory)", registers: [registry] });
    this.redisMaxMemory = new Gauge({ name: `${PREFIX}redis_memory_max_bytes`, help: "Redis's maxmemory (0: no limit)", registers: [registry] });
  }

  /** Within a probe's time: a scrape never waits on a Redis that is away (readiness says so); the values stay. */
  async sample(queue: Queue, redis: Redis): Promise<void> {
    const got = await within(PROBE_TIMEOUT_MS, Promise.all([backlogByPriority(queue), redis.info('memory')]));
    if (!got) return;
    const [byPriority, info] = got;
    for (const [priority, n] of Object.entries(byPriority)) this.backlog.set({ priority }, n);
    const used = Number(USED_MEMORY.exec(info)?.[1] ?? NaN);
    const max = Number(MAX_MEMORY.exec(info)?.[1] ?? NaN);
    if (Number.isFinite(used)) this.redisMemory.set(used);
    if (Number.isFinite(max)) this.redisMaxMemory.set(max);
  }
}

/** The `up` supervisor's own series (its children's series are aggregated next to these), and the cluster's. */
export class SupervisorMetrics {
  readonly alive: Gauge;
  readonly ready: Gauge;
  readonly desired: Gauge;
  readonly restarts: Counter;
  readonly slotMemory: Gauge;
  readonly cluster: ClusterGauges;

  constructor(readonly registry: Registry) {
    this.alive = new Gauge({ name: `${PREFIX}workers_alive`, help: 'Worker processes of this supervisor that are running', registers: [registry] });
    this.ready = new Gauge({ name: `${PREFIX}workers_ready`, help: 'Worker processes of this supervisor that are connected and taking batches', registers: [registry] });
    this.desired = new Gauge({ name: `${PREFIX}workers_desired`, help: 'Worker processes this supervisor keeps running (--workers)', registers: [registry] });
    this.restarts = new Counter({ name: `${PREFIX}worker_restarts_total`, help: 'Worker processes started again after one died', registers: [registry] });
    // By slot (at most --workers of them): the children's own series are summed, so one that leaks would not show.
    this.slotMemory = new Gauge({ name: `${PREFIX}worker_resident_memory_bytes`, help: 'Resident memory of each worker process of this supervisor, by slot', labelNames: ['slot'], registers: [registry] });
    this.cluster = new ClusterGauges(registry);
  }
}
