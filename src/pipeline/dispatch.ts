import { batchId, split } from '../plan/plan.js';
import type { FileRef, JobRequest, Priority } from '../protocol/types.js';
import { type BatchResult, type Transport } from '../transport/types.js';
import { within } from '../util/time.js';
import { RunFailedError } from '../errors.js';
import type { EventSink, InFlight } from './events.js';

export interface DispatchOptions {
  transport: Transport;
  signal: AbortSignal;
  emit: EventSink;
  priority: Priority;
  /** Merge one result (one transaction). Failing here fails the run: the index must not miss a result. */
  apply: (res: BatchResult) => unknown;
  /** A single file that kept failing its batch. */
  applyFileError: (file: FileRef, message: string) => unknown;
  toRequest: (b: { id: string; files: FileRef[] }) => JobRequest;
  /**
   * Transports with `health` are asked every few seconds: a fatal condition fails the run, and a `stalled` event warns
   * when for this long (0: never) no worker was alive, or none ran or finished a batch, while ours wait.
   */
  stallWarnMs?: number;
  /** When (epoch ms) the run fails if it has not finished, and the `--deadline` it came from (seconds). */
  deadline?: { at: number; seconds: number };
}

export interface DispatchCounters {
  splits: number;
  retries: number;
  stalls: number;
  /** Files a transport answered from a shared result cache instead of a parse. */
  filesCached: number;
}

/** A look at the transport's health that takes longer says "no answer" (Redis away). */
const HEALTH_TIMEOUT_MS = 5000;

export const noCounters = (): DispatchCounters => ({ splits: 0, retries: 0, stalls: 0, filesCached: 0 });

/**
 * Keeps `transport.capacity` (+ `prefetch`) batches in flight, merges results as they arrive, and splits a batch whose
 * transport gave up on it until the file that breaks it stands alone. A RunFailedError is never split: it fails the
 * run. On abort it stops handing out work and waits for what is in flight (a parse is never interrupted), unless the
 * transport is durable: its batches stay queued for a rerun, so there is nothing to wait for. Results being merged
 * are always waited for.
 */
export function dispatch(requests: JobRequest[], o: DispatchOptions): Promise<DispatchCounters> {
  return new Dispatcher(requests, o).run();
}

/**
 * - `running`: batches are handed out while there are any and the window has room;
 * - `judging`: the queue is empty and a single file whose batch failed runs alone (see `suspects`);
 * - `stopping`: interrupted or failed: nothing new is handed out, what must be waited for is waited for;
 * - `settled`: resolved or rejected; results that still arrive are for a rerun to collect.
 */
type State = 'running' | 'judging' | 'stopping' | 'settled';

class Dispatcher {
  private state: State = 'running';
  private readonly queue: JobRequest[];
  /**
   * Single files whose batch failed once, in a transport that is not durable (the local pool). A pool thread holds
   * two batches, and a thread that dies takes both down: the verdict on a lone file is reached with nothing else in
   * flight, so a crash cannot condemn its neighbour. A durable transport retries each job itself, on any worker.
   */
  private readonly suspects: { req: JobRequest; batch: InFlight }[] = [];
  private readonly counters = noCounters();
  private readonly window: number;
  private readonly freeSlots: number[];
  private nextSlot: number;
  /** Batches handed to the transport whose result has not arrived. */
  private inFlight = 0;
  /**
   * Results being merged. The transport gets its next batch as soon as a result arrives, not once it is merged (the
   * store merges on a thread of its own); at most `window` results wait for the merge, so a merge that falls behind
   * still holds the workers back.
   */
  private merging = 0;
  private failure: unknown = null;
  private watchdog: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private lastProgress = Date.now();
  private settle: { resolve: (c: DispatchCounters) => void; reject: (err: unknown) => void } | null = null;

  constructor(
    private readonly requests: JobRequest[],
    private readonly o: DispatchOptions,
  ) {
    this.queue = [...requests];
    this.window = o.transport.capacity + (o.transport.prefetch ?? 0);
    this.freeSlots = Array.from({ length: this.window }, (_, i) => this.window - 1 - i);
    this.nextSlot = this.window;
  }

  run(): Promise<DispatchCounters> {
    this.o.transport.expect?.(this.requests);
    if (this.o.signal.aborted) this.state = 'stopping';
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      this.o.signal.addEventListener('abort', this.onAbort, { once: true });
      this.startDeadline();
      this.startWatchdog();
      this.pump();
      this.finishIfIdle();
    });
  }

  private emit: EventSink = (e) => {
    if (e.type === 'batch-done' || e.type === 'batch-failed') this.lastProgress = Date.now();
    this.o.emit(e);
  };

  private finishIfIdle(): void {
    if (this.state === 'settled' || this.merging > 0) return;
    if (this.inFlight > 0 && !(this.o.transport.durable && this.state === 'stopping')) return;
    if (this.state !== 'stopping' && (this.queue.length > 0 || this.suspects.length > 0)) return;
    this.state = 'settled';
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.deadline) clearTimeout(this.deadline);
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.failure) this.settle!.reject(this.failure);
    else this.settle!.resolve(this.counters);
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    if (this.state !== 'settled') this.state = 'stopping';
    this.finishIfIdle();
  }

  /** Runs once (a `once` listener, removed when the dispatcher settles). */
  private readonly onAbort = () => {
    this.state = 'stopping';
    this.emit({ type: 'interrupt', inFlight: this.inFlight, kept: !!this.o.transport.durable });
    this.finishIfIdle();
  };

  private startDeadline(): void {
    if (!this.o.deadline) return;
    const { at, seconds } = this.o.deadline;
    const total = this.queue.length;
    this.deadline = setTimeout(() => {
      this.fail(new RunFailedError(`the run's deadline of ${seconds}s (--deadline) passed with ${this.queue.length + this.inFlight + this.merging} of ${total} batches not merged`));
    }, Math.max(0, at - Date.now()));
  }

  private pump(): void {
    while (this.state === 'running' && this.inFlight < this.window && this.merging < this.window && this.queue.length) this.submit(this.queue.shift()!);
    if (this.state === 'running' && !this.queue.length && this.inFlight === 0 && this.suspects.length) {
      this.state = 'judging';
      const { req, batch } = this.suspects.shift()!;
      this.submit(req, batch);
    }
  }

  /** Hands a batch to the transport; `suspect`: a lone file's second run, whose batch-start was its first. */
  private submit(req: JobRequest, suspect?: InFlight): void {
    let received = false;
    const batch: InFlight = suspect ?? {
      slot: this.freeSlots.pop() ?? this.nextSlot++,
      batchId: req.batchId,
      files: req.files.length,
      bytes: req.files.reduce((n, f) => n + f.size, 0),
      firstPath: req.files[0]?.path ?? '',
    };
    const judged = !!suspect;
    this.inFlight++;
    if (!suspect) this.emit({ type: 'batch-start', batch });
    this.o.transport
      .submit(req, { priority: this.o.priority })
      .then(
        async (res) => {
          if (this.state === 'settled') return;
          received = true;
          this.inFlight--;
          this.merging++;
          this.pump();
          // Counted as merging until its batch-done is out: the run must not end before (metrics, progress).
          try {
            await this.o.apply(res);
            // Cleanup after the merge committed; a failure here only leaves garbage that expires.
            await this.o.transport.ack?.(req).catch(() => {});
            this.counters.retries += res.delivery?.retries ?? 0;
            this.counters.stalls += res.delivery?.stalls ?? 0;
            this.counters.filesCached += res.delivery?.cached ?? 0;
            this.emit({
              type: 'batch-done',
              batch,
              symbols: res.counts.symbols,
              errors: res.counts.errors,
              fileErrors: res.failures,
              worker: `${res.worker.host}:${res.worker.pid}/${res.worker.threadId}`,
              durationMs: res.durationMs,
            });
          } finally {
            this.merging--;
          }
        },
        (err: unknown) => this.failed(req, batch, err, judged),
      )
      .catch((err: unknown) => {
        this.fail(err); // a merge failure or a RunFailedError: stop handing out work and fail the run
      })
      .finally(() => {
        if (!received) this.inFlight--;
        if (judged && this.state === 'judging') this.state = 'running';
        if (!judged) this.freeSlots.push(batch.slot);
        this.pump();
        this.finishIfIdle();
      });
  }

  /** A batch the transport gave up on: split it, suspect its one file, or record that file's failure. */
  private async failed(req: JobRequest, batch: InFlight, err: unknown, judged: boolean): Promise<void> {
    if (this.state === 'settled') return;
    if (err instanceof RunFailedError) throw err; // no split cures it: fail the run
    const message = err instanceof Error ? err.message : String(err);
    if (req.files.length > 1) {
      this.counters.splits++;
      this.emit({ type: 'batch-failed', batch, error: message, action: 'split' });
      // Halves go first so the culprit is isolated before the run's tail.
      const [a, b] = split(req.files);
      this.queue.unshift(this.o.toRequest({ id: batchId(a), files: a }), this.o.toRequest({ id: batchId(b), files: b }));
    } else if (!judged && !this.o.transport.durable) {
      this.suspects.push({ req, batch }); // its batch-failed or batch-done comes with the verdict
    } else {
      this.emit({ type: 'batch-failed', batch, error: message, action: 'file-error' });
      await this.o.applyFileError(req.files[0], `isolated: its batch failed every attempt (${message})`.slice(0, 500));
    }
  }

  /**
   * The watchdog: a cluster with no live worker, or whose workers take none of our batches, would otherwise wait in
   * silence; a Redis that refuses writes may leave nothing to fail (every batch already queued).
   */
  private startWatchdog(): void {
    const health = this.o.transport.health?.bind(this.o.transport);
    const runId = this.requests[0]?.runId;
    if (!health || !runId) return;
    const warnMs = this.o.stallWarnMs ?? 0;
    let quietSince = Date.now();
    let looking = false;
    this.watchdog = setInterval(() => {
      if (looking || this.state === 'settled') return;
      looking = true;
      void within(HEALTH_TIMEOUT_MS, health(runId))
        .then((h) => {
          if (this.state === 'settled') return;
          if (h?.fatal) return this.fail(h.fatal);
          if (h && h.running > 0 && h.workersAlive > 0) quietSince = Date.now();
          quietSince = Math.max(quietSince, this.lastProgress);
          const idleMs = Date.now() - quietSince;
          if (warnMs > 0 && this.inFlight > 0 && idleMs >= warnMs) {
            this.emit({ type: 'stalled', idleMs, workersAlive: h?.workersAlive ?? null, inFlight: this.inFlight });
            quietSince = Date.now(); // once per interval
          }
        })
        .finally(() => (looking = false));
    }, Math.min(warnMs || 5000, 5000));
    this.watchdog.unref();
  }
}
