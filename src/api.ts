/**
 * The programmatic API: `import { indexRepository, createCoordinator, createWorker } from 'mcp-index'`.
 *
 * - `indexRepository(path, options)`: local mode (a thread pool in this process), resolves with the run summary.
 * - `createCoordinator({ redis })`: runs index runs on Redis workers; `index(path, options)` per run.
 * - `createWorker({ redis, threads, root })`: a worker in this process, pulling batches until closed.
 *
 * Everything reports typed events: per-run callbacks (`onProgress`, `onBatchCompleted`, `onBatchFailed`) and,
 * on the long-lived coordinator and worker objects, typed EventEmitters (`coordinator.on('worker-lost', ...)`).
 * Nothing here installs signal handlers or writes to stdout/stderr: that is the embedder's call.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Redis } from 'ioredis';
import { workerRows, type WorkerRow } from './ops/heartbeats.js';
import { buildOptions, resolveRoot, type ConfigInput, type IndexOptions } from './config/options.js';
import { DEFAULT_NAMESPACE } from './config/option-table.js';
import { changedSince, fileList } from './discover/changed.js';
import { HeartbeatWatcher } from './ops/heartbeats.js';
import { callbackSink, runEventTranslator, type IndexCallbacks, type IndexEvents } from './ops/run-events.js';
import type { RunSummary } from './pipeline/events.js';
import { runIndex } from './pipeline/run.js';
import type { Priority } from './protocol/types.js';
import { LocalTransport } from './transport/local.js';
import { createRedis, preflight, type RedisConnectOptions } from './transport/redis/connection.js';
import { RedisTransport } from './transport/redis/coordinator.js';
import { Keys } from './transport/redis/keys.js';
import { recordRun } from './transport/redis/runs.js';
import { startWorker, type RunningWorker, type WorkerEvent, type WorkerStats } from './transport/redis/worker.js';

export type { IndexCallbacks, IndexEvents, IndexProgress, BatchCompleted, BatchFailed, WorkerLost } from './ops/run-events.js';
export type { PipelineEvent, RunSummary, Phase, InFlight } from './pipeline/events.js';
export type { WorkerEvent, WorkerStats } from './transport/redis/worker.js';
export type { WorkerRow } from './ops/heartbeats.js';
export type { ConfigInput, IndexOptions } from './config/options.js';
export type { Priority, JobRequest, JobResult, FileRef, FileResult, SymbolRecord, RefRecord, Language, SymbolKind, FileErrorCode } from './protocol/types.js';
export { RunFailedError, UsageError } from './errors.js';

/** Index settings: the config file's keys (rows of src/config/option-table.ts), minus the CLI's display and cluster flags. */
export type IndexSettings = Omit<
  ConfigInput,
  'cluster' | 'redis' | 'namespace' | 'priority' | 'workers' | 'window' | 'tlsCa' | 'tlsCert' | 'tlsKey' | 'progress' | 'progressInterval' | 'quiet' | 'json' | 'logLevel'
>;

export interface IndexRepositoryOptions extends IndexSettings, IndexCallbacks {
  /** Config file (default: `<repo>/mcp-index.config.json` when present); options given here win over it. */
  config?: string;
  /** Aborting stops handing out batches; in-flight ones finish; the previous index stays in place. */
  signal?: AbortSignal;
}

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

function settingsOf(opts: IndexRepositoryOptions): ConfigInput {
  const { config: _c, signal: _s, onProgress: _p, onBatchCompleted: _b, onBatchFailed: _f, onEvent: _e, ...settings } = opts as IndexRepositoryOptions & { priority?: unknown };
  delete (settings as { priority?: unknown }).priority;
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as ConfigInput;
}

async function onlyOf(o: IndexOptions): Promise<ReadonlySet<string> | null> {
  if (o.changedSince) return changedSince(o.root, o.changedSince);
  if (o.files) return fileList(o.root, o.files, () => '');
  return null;
}

/** Indexes `path` in this process on a pool of worker threads; resolves with the run's summary. */
export async function indexRepository(path: string, options: IndexRepositoryOptions = {}): Promise<RunSummary> {
  const o = buildOptions(path, settingsOf(options), options.config);
  const only = await onlyOf(o);
  const transport = LocalTransport.forRun(o);
  const translate = runEventTranslator(callbackSink(options));
  try {
    return await runIndex(o, { transport, signal: options.signal, only, onEvent: translate });
  } finally {
    await transport.close();
  }
}

export interface CoordinatorOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// */
  redis: string;
  /** Prefix of every Redis key (default mcp-index): coordinator and workers must agree. */
  namespace?: string;
  tls?: TlsFiles;
  /** Batches uploaded and queued at once (default 32). */
  window?: number;
  /** Default priority of this coordinator's runs (default normal). */
  priority?: Priority;
  /** How often worker heartbeats are checked for `worker-lost` (ms, default 2000; 0: not watched). */
  heartbeatPollMs?: number;
}

export interface CoordinatorIndexOptions extends IndexRepositoryOptions {
  priority?: Priority;
}

export interface Coordinator extends EventEmitter<IndexEvents> {
  readonly namespace: string;
  /** Indexes `path` on the cluster's workers (a run killed midway resumes when started again with the same tree). */
  index(path: string, options?: CoordinatorIndexOptions): Promise<RunSummary>;
  /** Workers with a live heartbeat. */
  workers(): Promise<WorkerRow[]>;
  close(): Promise<void>;
}

class RedisCoordinator extends EventEmitter<IndexEvents> implements Coordinator {
  private readonly keys: Keys;
  private watcher: HeartbeatWatcher | null = null;
  private closed = false;

  constructor(
    private readonly o: CoordinatorOptions,
    private readonly conn: RedisConnectOptions,
    private readonly redis: Redis,
  ) {
    super();
    this.keys = new Keys(this.namespace);
    const poll = o.heartbeatPollMs ?? 2000;
    if (poll > 0) this.watcher = new HeartbeatWatcher(redis, this.namespace, (w) => this.emit('worker-lost', w)).start(poll);
  }

  get namespace(): string {
    return this.o.namespace ?? DEFAULT_NAMESPACE;
  }

  async index(path: string, options: CoordinatorIndexOptions = {}): Promise<RunSummary> {
    if (this.closed) throw new Error('coordinator is closed');
    const t = this.o.tls ?? {};
    const o = buildOptions(
      path,
      {
        ...settingsOf(options),
        cluster: true,
        redis: this.o.redis,
        namespace: this.namespace,
        priority: options.priority ?? this.o.priority ?? 'normal',
        ...(this.o.window !== undefined ? { window: this.o.window } : {}),
        ...(t.ca ? { tlsCa: t.ca } : {}),
        ...(t.cert ? { tlsCert: t.cert } : {}),
        ...(t.key ? { tlsKey: t.key } : {}),
      },
      options.config,
    );
    const only = await onlyOf(o);
    const transport = await RedisTransport.create({ ...this.conn, namespace: o.namespace, root: o.root, window: o.window, cacheBytes: o.cacheBytes });
    const own = runEventTranslator(callbackSink(options));
    const shared = runEventTranslator((name, ...args) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args));
    const record = recordRun(transport.redis, this.keys, o);
    try {
      return await runIndex(o, {
        transport,
        signal: options.signal,
        only,
        resumable: true,
        onEvent: (e) => {
          record.onEvent(e);
          shared(e);
          own(e);
        },
      });
    } finally {
      record.stop();
      await transport.close();
    }
  }

  workers(): Promise<WorkerRow[]> {
    return workerRows(this.redis, this.keys);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watcher?.stop();
    this.redis.disconnect();
  }
}

/** Connects (checking the URL, credentials and rights once) and returns a coordinator. */
export async function createCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const conn: RedisConnectOptions = { url: options.redis, tlsCa: options.tls?.ca, tlsCert: options.tls?.cert, tlsKey: options.tls?.key };
  await preflight(conn, options.namespace ?? DEFAULT_NAMESPACE);
  const redis = createRedis(conn);
  redis.on('error', () => {}); // reconnects by itself
  return new RedisCoordinator(options, conn, redis);
}

export interface CreateWorkerOptions {
  redis: string;
  /** Pool threads (default: available cores). */
  threads?: number;
  /** A checkout of the repository: files whose hash matches are read here instead of fetched from Redis. */
  root?: string;
  namespace?: string;
  /** Name in heartbeats (default host-pid). */
  name?: string;
  tls?: TlsFiles;
  /** Lease on a batch (default 30000 ms). */
  lockMs?: number;
  /** On close, wait this long for in-flight batches before handing them back (default 30000 ms). */
  drainMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

type Of<T extends WorkerEvent['type']> = Omit<Extract<WorkerEvent, { type: T }>, 'type'>;

/** Event map of a worker (`worker.on(...)`). */
export interface WorkerEvents {
  'batch-started': [Of<'job-start'>];
  'batch-completed': [Of<'job-done'>];
  'batch-failed': [Of<'job-failed'>];
  /** close() began: no new batches, in-flight ones finish. */
  draining: [];
  stopped: [];
  /** Every raw worker event. */
  event: [WorkerEvent];
}

export interface IndexWorker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly stats: WorkerStats;
  /**
   * Stops taking work, drains (or hands batches back at the deadline), disconnects: within `drainMs` and a few
   * seconds, with or without Redis. Resolves with the batches it had to abandon (Redis away: their leases expire).
   */
  close(): Promise<number>;
  readonly closed: Promise<number>;
}

class WorkerHandle extends EventEmitter<WorkerEvents> implements IndexWorker {
  w!: RunningWorker;
  get id() {
    return this.w.id;
  }
  get stats() {
    return this.w.stats;
  }
  get closed() {
    return this.w.closed;
  }
  close() {
    return this.w.close();
  }
  dispatch(e: WorkerEvent): void {
    this.emit('event', e);
    const { type, ...rest } = e;
    if (type === 'job-start') this.emit('batch-started', rest as Of<'job-start'>);
    else if (type === 'job-done') this.emit('batch-completed', rest as Of<'job-done'>);
    else if (type === 'job-failed') this.emit('batch-failed', rest as Of<'job-failed'>);
    else if (type === 'draining') this.emit('draining');
    else if (type === 'stopped') this.emit('stopped');
  }
}

/** Starts a worker in this process; it pulls batches until `close()`. */
export async function createWorker(options: CreateWorkerOptions): Promise<IndexWorker> {
  const handle = new WorkerHandle();
  handle.w = await startWorker({
    url: options.redis,
    tlsCa: options.tls?.ca,
    tlsCert: options.tls?.cert,
    tlsKey: options.tls?.key,
    namespace: options.namespace ?? DEFAULT_NAMESPACE,
    threads: options.threads ?? availableParallelism(),
    root: options.root !== undefined ? resolveRoot(options.root) : undefined,
    name: options.name,
    lockMs: options.lockMs,
    drainMs: options.drainMs,
    log: options.log,
    onEvent: (e) => handle.dispatch(e),
  });
  return handle;
}
