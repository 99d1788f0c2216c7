import { batchId, split } from '../plan/plan.js';
import type { FileRef, JobRequest, Priority } from '../protocol/types.js';
import { type BatchResult, type Transport } from '../transport/types.js';
import { within } from '../util/time.js';
import { RunFailedError } from '../errors.js';
import type { EventSink, FileErrorSample, InFlight } from './events.js';

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
  const queue = [...requests];
  const counters = noCounters();
  const window = o.transport.capacity + (o.transport.prefetch ?? 0);
  const freeSlots = Array.from({ length: window }, (_, i) => window - 1 - i);
  let nextSlot = window;
  /** Batches handed to the transport whose result has not arrived. */
  let inFlight = 0;
  /**
   * Results being merged. The transport gets its next batch as soon as a result arrives, not once it is merged (the
   * store merges on a thread of its own); at most `window` results wait for the merge, so a merge that falls behind
   * still holds the workers back.
   */
  let merging = 0;
  let failure: unknown = null;
  let interruptSeen = false;
  let settled = false;
  let watchdog: NodeJS.Timeout | null = null;
  let lastProgress = Date.now();
  const emit: EventSink = (e) => {
    if (e.type === 'batch-done' || e.type === 'batch-failed') lastProgress = Date.now();
    o.emit(e);
  };

  o.transport.expect?.(requests);
  return new Promise((resolve, reject) => {
    const finishIfIdle = () => {
      if (settled || merging > 0 || (inFlight > 0 && !(o.transport.durable && (failure || o.signal.aborted)))) return;
      if (!failure && queue.length > 0 && !o.signal.aborted) return;
      settled = true; // results that still arrive are for a rerun to collect
      if (watchdog) clearInterval(watchdog);
      if (deadline) clearTimeout(deadline);
      o.signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve(counters);
    };
    const fail = (err: unknown) => {
      failure ??= err;
      finishIfIdle();
    };
    const onAbort = () => {
      if (!interruptSeen) {
        interruptSeen = true;
        emit({ type: 'interrupt', inFlight, kept: !!o.transport.durable });
      }
      finishIfIdle();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    let deadline: NodeJS.Timeout | null = null;
    if (o.deadline) {
      const { at, seconds } = o.deadline;
      const total = queue.length;
      deadline = setTimeout(() => {
        fail(new RunFailedError(`the run's deadline of ${seconds}s (--deadline) passed with ${queue.length + inFlight + merging} of ${total} batches not merged`));
      }, Math.max(0, at - Date.now()));
    }

    const pump = () => {
      while (!o.signal.aborted && !failure && inFlight < window && merging < window && queue.length) {
        const req = queue.shift()!;
        let received = false;
        const batch: InFlight = {
          slot: freeSlots.pop() ?? nextSlot++,
          batchId: req.batchId,
          files: req.files.length,
          bytes: req.files.reduce((n, f) => n + f.size, 0),
          firstPath: req.files[0]?.path ?? '',
        };
        inFlight++;
        emit({ type: 'batch-start', batch });
        o.transport
          .submit(req, { priority: o.priority })
          .then(
            async (res) => {
              if (settled) return;
              received = true;
              inFlight--;
              merging++;
              pump();
              // Counted as merging until its batch-done is out: the run must not end before (metrics, progress).
              try {
                await o.apply(res);
                // Cleanup after the merge committed; a failure here only leaves garbage that expires.
                await o.transport.ack?.(req).catch(() => {});
                counters.retries += res.delivery?.retries ?? 0;
                counters.stalls += res.delivery?.stalls ?? 0;
                counters.filesCached += res.delivery?.cached ?? 0;
                emit({
                  type: 'batch-done',
                  batch,
                  symbols: res.counts.symbols,
                  errors: res.counts.errors,
                  fileErrors: res.failures,
                  worker: `${res.worker.host}:${res.worker.pid}/${res.worker.threadId}`,
                  durationMs: res.durationMs,
                });
              } finally {
                merging--;
              }
            },
            async (err: unknown) => {
              if (settled) return;
              if (err instanceof RunFailedError) throw err; // no split cures it: fail the run
              const message = err instanceof Error ? err.message : String(err);
              if (req.files.length > 1) {
                counters.splits++;
                emit({ type: 'batch-failed', batch, error: message, action: 'split' });
                // Halves go first so the culprit is isolated before the run's tail.
                const [a, b] = split(req.files);
                queue.unshift(o.toRequest({ id: batchId(a), files: a }), o.toRequest({ id: batchId(b), files: b }));
              } else {
                emit({ type: 'batch-failed', batch, error: message, action: 'file-error' });
                await o.applyFileError(req.files[0], `isolated: its batch failed every attempt (${message})`.slice(0, 500));
              }
            },
          )
          .catch((err: unknown) => {
            failure ??= err; // a merge failure or a RunFailedError: stop handing out work and fail the run
          })
          .finally(() => {
            if (!received) inFlight--;
            freeSlots.push(batch.slot);
            pump();
            finishIfIdle();
          });
      }
    };

    // The watchdog: a cluster with no live worker, or whose workers take none of our batches, would otherwise wait
    // in silence; a Redis that refuses writes may leave nothing to fail (every batch already queued).
    const health = o.transport.health?.bind(o.transport);
    const runId = requests[0]?.runId;
    if (health && runId) {
      const warnMs = o.stallWarnMs ?? 0;
      let quietSince = Date.now();
      let looking = false;
      watchdog = setInterval(() => {
        if (looking || settled) return;
        looking = true;
        void within(HEALTH_TIMEOUT_MS, health(runId))
          .then((h) => {
            if (settled) return;
            if (h?.fatal) return fail(h.fatal);
            if (h && h.running > 0 && h.workersAlive > 0) quietSince = Date.now();
            quietSince = Math.max(quietSince, lastProgress);
            const idleMs = Date.now() - quietSince;
            if (warnMs > 0 && inFlight > 0 && idleMs >= warnMs) {
              emit({ type: 'stalled', idleMs, workersAlive: h?.workersAlive ?? null, inFlight });
              quietSince = Date.now(); // once per interval
            }
          })
          .finally(() => (looking = false));
      }, Math.min(warnMs || 5000, 5000));
      watchdog.unref();
    }
    pump();
    finishIfIdle();
  });
}
