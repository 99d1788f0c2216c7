/**
 * The operations side of `mcp-index worker`: metrics from the worker's events, /healthz + /readyz + /metrics, and,
 * when started by `mcp-index up`, the IPC link to the supervisor (state changes, metrics on request, and a drain when
 * the supervisor disappears).
 */
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { RedisConnectOptions } from '../transport/redis/connection.js';
import type { RunningWorker, WorkerEvent } from '../transport/redis/worker.js';
import { startOpsServer, type OpsServer, type Readiness } from './http.js';
import { isMessage, sendToParent, type ChildState, type ToChild } from './ipc.js';
import type { WorkerMetrics } from './metrics.js';
import { opsQueue, opsRedis, ping, priorityLookup } from './redis.js';

export interface WorkerOpsOptions {
  /** 0: no HTTP server. */
  metricsPort: number;
  metricsHost?: string;
  /** Started by `mcp-index up` (worker --supervised): talk to it over the IPC channel. */
  supervised?: boolean;
  redis: RedisConnectOptions;
  namespace: string;
  log?: Logger;
}

export interface WorkerOps {
  /** Pass as `startWorker({ onEvent })`. */
  readonly onEvent: (e: WorkerEvent) => void;
  /** Call once `startWorker` resolved. */
  started(w: RunningWorker): void;
  readiness(): Promise<Readiness>;
  readonly metrics: WorkerMetrics | null;
  /** The port /metrics is served on (null: not served). */
  readonly port: number | null;
  /** After the worker closed: stops the server and the probe connection, and lets go of the supervisor. */
  close(): Promise<void>;
}

export async function startWorkerOps(o: WorkerOpsOptions): Promise<WorkerOps> {
  const supervised = o.supervised === true && typeof process.send === 'function' && process.connected;
  const wanted = o.metricsPort > 0 || supervised;
  let state: ChildState = 'starting';
  let worker: RunningWorker | null = null;
  let orphaned = false;

  const redis: Redis | null = wanted ? opsRedis(o.redis) : null;
  const m = wanted ? await import('./metrics.js') : null; // prom-client only when metrics are wanted
  const registry = m ? m.createRegistry('worker') : null;
  const metrics = m && registry && redis ? new m.WorkerMetrics(registry, priorityLookup(redis, o.namespace)) : null;
  // A worker on its own (compose's workers) also reports the cluster's backlog and Redis's memory; under `up` the
  // supervisor does, once for all its children.
  const cluster = m && registry && redis && !supervised ? { gauges: new m.ClusterGauges(registry), queue: await opsQueue(redis, o.namespace) } : null;

  const setState = (s: ChildState, requested?: boolean) => {
    if (state === s || state === 'stopped') return;
    state = s;
    void sendToParent({ mcpIndex: 1, type: 'state', state: s, id: worker?.id, ...(requested ? { requested } : {}) });
  };

  const onEvent = (e: WorkerEvent) => {
    metrics?.onEvent(e);
    if (e.type === 'draining') setState('draining', e.requested);
    else if (e.type === 'stopped') setState('stopped');
  };

  const readiness = async (): Promise<Readiness> => {
    if (state === 'starting') return { ready: false, reason: 'starting: connecting to Redis and starting the pool' };
    if (state === 'draining') return { ready: false, reason: 'draining: finishing in-flight batches after SIGTERM, taking no new ones' };
    if (state === 'stopped') return { ready: false, reason: 'stopped' };
    const problem = redis ? await ping(redis) : null;
    if (problem) return { ready: false, reason: problem };
    return { ready: true, reason: `worker ${worker?.id ?? '?'} connected, pool up` };
  };

  let server: OpsServer | null = null;
  if (o.metricsPort > 0) {
    try {
      server = await startOpsServer({
        port: o.metricsPort,
        host: o.metricsHost,
        log: o.log,
        readiness,
        metrics: async () => {
          await metrics?.settled();
          if (cluster) await cluster.gauges.sample(cluster.queue.queue, redis!);
          return { contentType: registry!.contentType, body: await registry!.metrics() };
        },
        status: () => ({ state, id: worker?.id ?? null, stats: worker?.stats ?? null }),
      });
    } catch (err) {
      await cluster?.queue.close();
      redis?.disconnect();
      throw err;
    }
  }

  const onMessage = (m: unknown) => {
    if (!isMessage<ToChild>(m) || m.type !== 'metrics?' || !registry) return;
    void (async () => {
      await metrics?.settled();
      await sendToParent({ mcpIndex: 1, type: 'metrics', reqId: m.reqId, metrics: await registry.getMetricsAsJSON() });
    })();
  };
  // The supervisor went away (killed, or closed the channel): drain and stop rather than run on unsupervised.
  const onDisconnect = () => {
    orphaned = true;
    o.log?.warn('supervisor gone: draining and stopping');
    void worker?.close();
  };
  if (supervised) {
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  }

  return {
    onEvent,
    metrics,
    port: server?.port ?? null,
    readiness,
    started(w) {
      worker = w;
      setState('ready');
      if (orphaned) void w.close();
    },
    async close() {
      setState('stopped');
      await server?.close();
      await cluster?.queue.close();
      redis?.disconnect();
      if (supervised) {
        process.off('message', onMessage);
        process.off('disconnect', onDisconnect);
        await sendToParent({ mcpIndex: 1, type: 'state', state: 'stopped', id: worker?.id });
        // The channel would keep this process alive.
        if (process.connected) process.disconnect();
      }
    },
  };
}
