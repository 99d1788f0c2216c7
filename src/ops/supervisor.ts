/**
 * `mcp-index up`: keeps N `mcp-index worker` child processes (the same binary) running on this host.
 *
 * - A child that dies is started again after an exponential backoff (base, doubling, capped); a child that stayed
 *   up for `stableMs` resets its slot's backoff.
 * - Children run in their own process group, so a Ctrl-C at a terminal reaches the supervisor only, which then
 *   forwards one SIGTERM to each child (they drain: finish in-flight batches, then exit). A second signal forwards
 *   a second SIGTERM (the children stop at once). If the supervisor itself is killed, each child sees its IPC
 *   channel close and drains on its own.
 * - /healthz, /readyz (ready while at least one child is connected and taking batches), /metrics (its own series
 *   plus every child's, aggregated over IPC) and /status (JSON per slot).
 */
import type { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { startOpsServer, type OpsServer, type Readiness } from './http.js';
import { isMessage, type ChildState, type MetricsJson, type ToChild, type ToParent } from './ipc.js';
import { DEFAULT_NAMESPACE } from '../config/option-table.js';
import { workerArgv, type WorkerCaps } from '../config/options.js';
import { EXIT } from '../errors.js';
import { opsQueue, opsRedis, ping, type OpsQueue } from './redis.js';
import { createRegistry, SupervisorMetrics } from './metrics.js';

/** Metric types whose values only grow (prom-client's JSON names them; its typings say numbers). */
const CUMULATIVE = new Set(['counter', 'histogram']);

export const BIN = fileURLToPath(new URL('../../bin/mcp-index.js', import.meta.url));

export interface SupervisorOptions {
  workers: number;
  redis: string;
  namespace?: string;
  root?: string;
  threadsPerWorker?: number;
  /** Children are named `<prefix>-<slot>` in heartbeats (default `<hostname>`). */
  namePrefix?: string;
  lockMs?: number;
  drainMs?: number;
  /** The workers' own caps (`worker --max-file-size --parse-timeout`). */
  caps?: WorkerCaps;
  tls?: { ca?: string; cert?: string; key?: string };
  logLevel?: string;
  logFormat?: string;
  metricsPort?: number;
  metricsHost?: string;
  /** First restart delay (doubles per quick death). */
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** A child that ran this long counts as healthy: the next death restarts after the base delay again. */
  stableMs?: number;
  log: Logger;
  /** The CLI to run (default: this package's bin/mcp-index.js). */
  bin?: string;
}

export interface SlotStatus {
  slot: number;
  name: string;
  pid: number | null;
  /** `drained`: it exited after a drain was requested through Redis (the dashboard), and stays down. */
  state: ChildState | 'backoff' | 'exited' | 'drained';
  restarts: number;
  /** Deaths in a row without a stable period between them. */
  failures: number;
  startedAt: number | null;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
  nextStartInMs: number | null;
}

interface Slot {
  slot: number;
  name: string;
  child: ChildProcess | null;
  state: SlotStatus['state'];
  restarts: number;
  failures: number;
  startedAt: number | null;
  lastExit: SlotStatus['lastExit'];
  timer: NodeJS.Timeout | null;
  nextStartAt: number | null;
  exited: Promise<void> | null;
  /** The running child's counters and histograms at the last scrape: kept when it dies (see `retired`). */
  lastCounts: MetricsJson | null;
  drainRequested: boolean;
}

/** Delay before the next start of a slot that died `failures` times in a row. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

export class Supervisor {
  private readonly slots: Slot[];
  private probe: Redis | null = null;
  private queue: OpsQueue | null = null;
  private readonly registry = createRegistry('supervisor');
  private readonly m = new SupervisorMetrics(this.registry);
  private server: OpsServer | null = null;
  private stopping: Promise<void> | null = null;
  private reqId = 0;
  private readonly pendingMetrics = new Map<number, (m: MetricsJson) => void>();
  /**
   * The counters and histograms of children that died, as last scraped, summed: added to the live children's, so a
   * restart never makes a total go backwards (gauges of the dead are dropped).
   */
  private retired: MetricsJson = [];
  private readonly base: number;
  private readonly cap: number;
  private readonly stable: number;
  private resolveDone!: () => void;
  /** Resolves once `stop()` has stopped every child. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(private readonly o: SupervisorOptions) {
    const prefix = o.namePrefix ?? hostname();
    this.slots = Array.from({ length: o.workers }, (_, i) => ({
      slot: i,
      name: `${prefix}-${i}`,
      child: null,
      state: 'exited' as const,
      restarts: 0,
      failures: 0,
      startedAt: null,
      lastExit: null,
      timer: null,
      nextStartAt: null,
      exited: null,
      lastCounts: null,
      drainRequested: false,
    }));
    this.base = o.restartBaseMs ?? 1000;
    this.cap = o.restartMaxMs ?? 30_000;
    this.stable = o.stableMs ?? 60_000;
    this.m.desired.set(o.workers);
  }

  get port(): number | null {
    return this.server?.port ?? null;
  }

  async start(): Promise<void> {
    if (this.o.metricsPort && this.o.metricsPort > 0) {
      // Its own probe connection: ready means Redis answers too, whatever the children last said.
      const conn = { url: this.o.redis, tlsCa: this.o.tls?.ca, tlsCert: this.o.tls?.cert, tlsKey: this.o.tls?.key };
      this.probe = opsRedis(conn);
      this.queue = await opsQueue(this.probe, this.o.namespace ?? DEFAULT_NAMESPACE);
      this.server = await startOpsServer({
        port: this.o.metricsPort,
        host: this.o.metricsHost,
        log: this.o.log,
        readiness: () => this.readiness(),
        metrics: () => this.metrics(),
        status: () => ({ workers: this.o.workers, stopping: this.stopping !== null, slots: this.status() }),
      });
    }
    for (const s of this.slots) this.launch(s);
  }

  private args(s: Slot): string[] {
    const o = this.o;
    return [o.bin ?? BIN, ...workerArgv({ ...o, name: s.name, threads: o.threadsPerWorker ?? 1 }), '--supervised'];
  }

  private launch(s: Slot): void {
    s.timer = null;
    s.nextStartAt = null;
    if (this.stopping) return;
    const child = spawn(process.execPath, this.args(s), {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      detached: true, // own process group: a terminal's Ctrl-C reaches only the supervisor, which forwards SIGTERM
      env: process.env,
    });
    s.child = child;
    s.state = 'starting';
    s.drainRequested = false;
    s.startedAt = Date.now();
    this.o.log.info({ slot: s.slot, worker: s.name, workerPid: child.pid, restarts: s.restarts }, 'worker process started');
    child.on('message', (msg: unknown) => this.onMessage(s, child, msg));
    child.on('error', (err) => this.o.log.error({ slot: s.slot, err: err.message }, 'cannot start worker process'));
    s.exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      this.onExit(s, child, code, signal);
      resolve();
    }));
    this.updateGauges();
  }

  private onMessage(s: Slot, child: ChildProcess, msg: unknown): void {
    if (!isMessage<ToParent>(msg) || s.child !== child) return;
    if (msg.type === 'state') {
      s.state = msg.state;
      if (msg.requested) s.drainRequested = true;
      if (msg.state === 'ready') this.o.log.info({ slot: s.slot, worker: s.name, workerPid: child.pid }, 'worker ready');
      this.updateGauges();
    } else if (msg.type === 'metrics') {
      const resolve = this.pendingMetrics.get(msg.reqId);
      this.pendingMetrics.delete(msg.reqId);
      resolve?.(msg.metrics);
    }
  }

  private onExit(s: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (s.child !== child) return;
    if (s.lastCounts) void this.retire(s.lastCounts);
    s.lastCounts = null;
    const now = Date.now();
    const ranMs = now - (s.startedAt ?? now);
    s.child = null;
    s.lastExit = { code, signal, at: now };
    if (this.stopping) {
      s.state = 'exited';
      this.o.log.info({ slot: s.slot, worker: s.name, workerPid: child.pid, code, signal }, 'worker process exited');
      this.updateGauges();
      return;
    }
    if (s.drainRequested) {
      s.state = 'drained';
      this.o.log.info({ slot: s.slot, worker: s.name, workerPid: child.pid, code, signal }, 'worker drained on request: not restarted');
      this.updateGauges();
      return;
    }
    if (ranMs >= this.stable || code === EXIT.overMemory) s.failures = 0;
    // Past its memory cap it stopped cleanly, having handed its batches back: a fresh process, soon, is the cure.
    if (code !== EXIT.overMemory) s.failures++;
    const delay = backoffMs(s.failures, this.base, this.cap);
    s.state = 'backoff';
    s.nextStartAt = now + delay;
    const why = code === EXIT.overMemory ? 'worker process passed its memory cap: restarting' : 'worker process died: restarting';
    this.o.log.warn({ slot: s.slot, worker: s.name, workerPid: child.pid, code, signal, ranMs, restartInMs: delay }, why);
    s.timer = setTimeout(() => {
      s.restarts++;
      this.m.restarts.inc();
      this.launch(s);
    }, delay);
    this.updateGauges();
  }

  private updateGauges(): void {
    this.m.alive.set(this.slots.filter((s) => s.child !== null).length);
    this.m.ready.set(this.slots.filter((s) => s.child !== null && s.state === 'ready').length);
  }

  async readiness(): Promise<Readiness> {
    const ready = this.slots.filter((s) => s.child !== null && s.state === 'ready').length;
    if (this.stopping) return { ready: false, reason: `shutting down: draining ${this.slots.filter((s) => s.child).length} worker process(es)` };
    if (ready === 0) return { ready: false, reason: `no worker process ready (0/${this.o.workers})` };
    const problem = this.probe ? await ping(this.probe) : null;
    if (problem) return { ready: false, reason: `Redis: ${problem} (${ready}/${this.o.workers} worker processes up, taking no batches)` };
    return { ready: true, reason: `${ready}/${this.o.workers} worker processes ready` };
  }

  status(): SlotStatus[] {
    const now = Date.now();
    return this.slots.map((s) => ({
      slot: s.slot,
      name: s.name,
      pid: s.child?.pid ?? null,
      state: s.state,
      restarts: s.restarts,
      failures: s.failures,
      startedAt: s.startedAt,
      lastExit: s.lastExit,
      nextStartInMs: s.nextStartAt ? Math.max(0, s.nextStartAt - now) : null,
    }));
  }

  /** Keeps the counters of a child that exited (its last report), so the totals never go back. */
  private async retire(counts: MetricsJson): Promise<void> {
    this.retired = await AggregatorRegistry.aggregate([this.retired, counts]).getMetricsAsJSON();
  }

  /** Its own series plus every live child's, summed per label set (prom-client's cluster aggregation). */
  async metrics(): Promise<{ contentType: string; body: string }> {
    // The cluster's figures are read while the children answer: the two waits do not add up.
    const sampled = this.probe && this.queue ? this.m.cluster.sample(this.queue.queue, this.probe) : null;
    const live = this.slots.filter((s) => s.child?.connected && s.state !== 'starting');
    const children = await Promise.all(
      live.map(
        (s) =>
          new Promise<MetricsJson | null>((resolve) => {
            const child = s.child;
            const reqId = ++this.reqId;
            const timer = setTimeout(() => {
              this.pendingMetrics.delete(reqId);
              resolve(null);
            }, 2000);
            this.pendingMetrics.set(reqId, (m) => {
              clearTimeout(timer);
              if (s.child === child) s.lastCounts = m.filter((x) => CUMULATIVE.has(String(x.type)));
              resolve(m);
            });
            try {
              s.child!.send({ mcpIndex: 1, type: 'metrics?', reqId } satisfies ToChild);
            } catch {
              clearTimeout(timer);
              this.pendingMetrics.delete(reqId);
              resolve(null);
            }
          }),
      ),
    );
    await sampled;
    this.m.slotMemory.reset();
    live.forEach((s, i) => {
      const rss = children[i]?.find((x) => x.name === 'process_resident_memory_bytes')?.values[0]?.value;
      if (typeof rss === 'number') this.m.slotMemory.set({ slot: String(s.slot) }, rss);
    });
    const all = [await this.registry.getMetricsAsJSON(), this.retired, ...children.filter((m): m is MetricsJson => m !== null)];
    const merged = AggregatorRegistry.aggregate(all);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }

  /**
   * Forwards SIGTERM to every child and waits for all of them (each drains for up to its --drain-ms); after
   * `graceMs` more, stragglers are killed. A second call forwards a second SIGTERM: the children stop at once.
   */
  stop(graceMs = (this.o.drainMs ?? 30_000) + 30_000): Promise<void> {
    if (this.stopping) {
      this.o.log.warn('second signal: asking the workers to stop at once');
      for (const s of this.slots) s.child?.kill('SIGTERM');
      return this.stopping;
    }
    this.stopping = (async () => {
      this.o.log.info({ workers: this.slots.filter((s) => s.child).length }, 'shutting down: draining workers');
      for (const s of this.slots) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = null;
        s.nextStartAt = null;
        if (s.child) {
          s.state = 'draining';
          s.child.kill('SIGTERM');
        } else s.state = 'exited';
      }
      this.updateGauges();
      const all = Promise.all(this.slots.map((s) => (s.child ? s.exited : null)));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
      if ((await Promise.race([all, late])) === 'late') {
        for (const s of this.slots) {
          if (s.child) {
            this.o.log.error({ slot: s.slot, worker: s.name, workerPid: s.child.pid }, 'worker did not stop in time: killing it');
            s.child.kill('SIGKILL');
          }
        }
        await all;
      }
      clearTimeout(timer);
      await this.server?.close();
      await this.queue?.close();
      this.probe?.disconnect();
      this.o.log.info('all workers stopped');
      this.resolveDone();
    })();
    return this.stopping;
  }
}
