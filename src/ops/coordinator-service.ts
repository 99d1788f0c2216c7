/**
 * The operations side of an index run (the coordinator, local or cluster): metrics from the pipeline's events,
 * /healthz + /readyz + /metrics, worker heartbeats (the live count, and a warning for each worker that vanishes).
 *
 * A run is short-lived and Prometheus pulls: `lingerMs` keeps /metrics up after the run so a last scrape sees the
 * final counts (SIGTERM/SIGINT end the wait early).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DEFAULT_NAMESPACE } from '../config/option-table.js';
import type { PipelineEvent } from '../pipeline/events.js';
import type { RedisConnectOptions } from '../transport/redis/connection.js';
import { HeartbeatWatcher } from './heartbeats.js';
import { startOpsServer, type OpsServer, type Readiness } from './http.js';
import type { CoordinatorMetrics } from './metrics.js';

export interface CoordinatorOpsOptions {
  /** 0: no HTTP server. */
  metricsPort: number;
  metricsHost?: string;
  /** Keep serving this long after the run (ms). */
  lingerMs?: number;
  priority: string;
  /** Cluster mode: where the workers' heartbeats are. */
  redis?: RedisConnectOptions | null;
  namespace?: string;
  log?: Logger;
}

export interface CoordinatorOps {
  /** Pass as `indexCommand(..., { onEvent })`. */
  readonly onEvent: (e: PipelineEvent) => void;
  readonly port: number | null;
  readonly metrics: CoordinatorMetrics | null;
  readiness(): Readiness;
  /** After the run: lingers if asked, then stops the server and the connection. */
  close(): Promise<void>;
}

type RunState = 'starting' | 'running' | 'interrupted' | 'finished';

export async function startCoordinatorOps(o: CoordinatorOpsOptions): Promise<CoordinatorOps> {
  const log = o.log;
  let state: RunState = 'starting';
  // Cluster mode: heartbeats are watched from the run's first event on, i.e. once the transport's preflight has
  // accepted the URL, credentials and rights (a refused connection is reported there, in one line).
  let redis = null as Redis | null;
  let watcher = null as HeartbeatWatcher | null;
  // ioredis is loaded only for a cluster run: a local run starts faster without it.
  const opsRedis = o.redis ? (await import('./redis.js')).opsRedis : null;
  const watchWorkers = () => {
    if (!o.redis || !opsRedis || redis) return;
    redis = opsRedis(o.redis);
    watcher = new HeartbeatWatcher(
      redis,
      o.namespace ?? DEFAULT_NAMESPACE,
      (w) => log?.warn({ worker: w.id, host: w.host, workerPid: w.pid, lastSeenMsAgo: w.lastSeenMsAgo }, 'worker lost: its heartbeat stopped'),
      (w) => log?.info({ worker: w.id, host: w.host, workerPid: w.pid, threads: w.threads }, 'worker alive'),
    ).start();
  };

  // prom-client is loaded only when metrics are served.
  const m = o.metricsPort > 0 ? await import('./metrics.js') : null;
  const registry = m ? m.createRegistry('coordinator') : null;
  // The live count is fresh at every scrape while the run lasts (the watcher's own poll, every 2 s, warns of lost workers).
  const alive = o.redis ? async () => (!watcher ? 0 : state === 'finished' ? watcher.alive : watcher.poll()) : undefined;
  const metrics = m && registry ? new m.CoordinatorMetrics(registry, o.priority, alive) : null;

  const readiness = (): Readiness => {
    switch (state) {
      case 'starting':
        return { ready: false, reason: 'starting' };
      case 'running':
        return { ready: true, reason: 'index run in progress' };
      case 'interrupted':
        return { ready: false, reason: 'interrupted: finishing in-flight batches' };
      case 'finished':
        return { ready: false, reason: 'run finished' };
    }
  };

  const onEvent = (e: PipelineEvent) => {
    if (state === 'starting') watchWorkers();
    metrics?.onEvent(e);
    if (e.type === 'phase' && state === 'starting') state = 'running';
    else if (e.type === 'interrupt') state = 'interrupted';
    else if (e.type === 'planned') log?.info({ runId: e.runId, batches: e.batches, files: e.files, bytes: e.bytes, reused: e.reused }, 'run planned');
    else if (e.type === 'batch-failed') log?.info({ batch: e.batch.batchId, files: e.batch.files, action: e.action, error: e.error }, 'batch failed');
    // Info, not warn: the progress display and the CLI's last line say it (a log line would tear the bars).
    else if (e.type === 'stalled') log?.info({ idleMs: e.idleMs, workersAlive: e.workersAlive, inFlight: e.inFlight }, 'run stalled');
    else if (e.type === 'failed') log?.info({ reason: e.reason }, 'run failed');
    if (e.type === 'failed' || e.type === 'done') {
      state = 'finished';
      void watcher?.stop(); // local workers stopping after the run are not "lost"
    }
    if (e.type === 'done') {
      const s = e.summary;
      log?.info({ runId: s.runId, files: s.index.files, symbols: s.index.symbols, parsed: s.run.filesParsed, batches: s.run.batches, retries: s.run.retries, stalls: s.run.stalls, interrupted: s.interrupted, totalMs: s.timings.totalMs }, 'run done');
    }
  };

  let server: OpsServer | null = null;
  if (registry) {
    try {
      server = await startOpsServer({
        port: o.metricsPort,
        host: o.metricsHost,
        log,
        readiness,
        metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
        status: () => ({ state, workersAlive: watcher?.alive ?? null }),
      });
    } catch (err) {
      await watcher?.stop();
      redis?.disconnect();
      throw err;
    }
  }

  return {
    onEvent,
    metrics,
    port: server?.port ?? null,
    readiness,
    async close() {
      state = state === 'starting' ? 'finished' : state === 'running' ? 'finished' : state;
      await watcher?.stop();
      if (server && o.lingerMs && o.lingerMs > 0) {
        log?.info({ seconds: o.lingerMs / 1000 }, 'run over: still serving /metrics for a last scrape (SIGTERM ends this)');
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            process.off('SIGTERM', done);
            process.off('SIGINT', done);
            resolve();
          };
          const timer = setTimeout(done, o.lingerMs);
          process.on('SIGTERM', done);
          process.on('SIGINT', done);
        });
      }
      await server?.close();
      redis?.disconnect();
    },
  };
}
