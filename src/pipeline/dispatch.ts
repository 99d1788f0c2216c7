import { batchId, split } from '../plan/plan.js';
import type { FileRef, JobRequest, Priority } from '../protocol/types.js';
import type { BatchResult, Transport } from '../transport/types.js';
import type { EventSink, InFlight } from './events.js';

export interface DispatchOptions {
  transport: Transport;
  signal: AbortSignal;
  emit: EventSink;
  priority: Priority;
  /** Merge one result (one transaction). Throwing here fails the run: the index must not miss a result. */
  apply: (res: BatchResult) => unknown;
  /**
   * Deferred merge work (the store's search rows), one small step per call; false when none is left. Called only
   * while this thread has time to spare (see below), so a busy merge never waits for it.
   */
  idle?: () => boolean;
  /** A single file that kept failing its batch. */
  applyFileError: (file: FileRef, message: string) => void;
  toRequest: (b: { id: string; files: FileRef[] }) => JobRequest;
}

export interface DispatchCounters {
  splits: number;
  retries: number;
  stalls: number;
  /** Files a transport answered from a shared result cache instead of a parse. */
  filesCached: number;
}

/**
 * Keeps `transport.capacity` (+ `prefetch`) batches in flight, merges results as they arrive, and splits a batch whose
 * transport gave up on it until the file that breaks it stands alone. On abort it stops handing out work and
 * waits for what is in flight: a parse is never interrupted.
 */
export const noCounters = (): DispatchCounters => ({ splits: 0, retries: 0, stalls: 0, filesCached: 0 });

const IDLE_POLL_MS = 5;
const IDLE_WINDOW_MS = 200;
const IDLE_SHARE = 0.5;

export function dispatch(requests: JobRequest[], o: DispatchOptions): Promise<DispatchCounters> {
  const queue = [...requests];
  const counters = noCounters();
  const window = o.transport.capacity + (o.transport.prefetch ?? 0);
  const freeSlots = Array.from({ length: window }, (_, i) => window - 1 - i);
  let inFlight = 0;
  let failure: unknown = null;
  let interruptSeen = false;

  o.transport.expect?.(requests);
  // Idle work runs only while this thread has time to spare: over the last IDLE_WINDOW_MS, its own work (merges,
  // the transport's I/O) took less than IDLE_SHARE of the time. A coordinator that keeps up with many workers
  // therefore leaves it for the end instead of making them wait; one that waits for its workers does it meanwhile.
  let idleScheduled = false;
  let eluMark = performance.eventLoopUtilization();
  let windowIdleWork = 0;
  const idleTick = () => {
    idleScheduled = false;
    if (!o.idle || inFlight === 0 || failure) return;
    idleScheduled = true;
    const elu = performance.eventLoopUtilization(eluMark);
    const span = elu.active + elu.idle;
    const ownWork = Math.max(0, elu.active - windowIdleWork);
    if (span >= IDLE_WINDOW_MS) {
      eluMark = performance.eventLoopUtilization();
      windowIdleWork = 0;
    }
    if (span < IDLE_POLL_MS || ownWork > IDLE_SHARE * span) {
      setTimeout(idleTick, IDLE_POLL_MS);
      return;
    }
    const t0 = performance.now();
    let more = false;
    try {
      more = o.idle();
    } catch (err) {
      failure ??= err;
    }
    windowIdleWork += performance.now() - t0;
    if (more) setImmediate(idleTick);
    else idleScheduled = false;
  };
  const wakeIdle = () => {
    if (!o.idle || idleScheduled) return;
    idleScheduled = true;
    setTimeout(idleTick, IDLE_POLL_MS);
  };
  return new Promise((resolve, reject) => {
    const finishIfIdle = () => {
      if (inFlight > 0) return;
      if (failure) reject(failure);
      else if (queue.length === 0 || o.signal.aborted) resolve(counters);
    };
    const onAbort = () => {
      if (!interruptSeen) {
        interruptSeen = true;
        o.emit({ type: 'interrupt', inFlight });
      }
      finishIfIdle();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });

    const pump = () => {
      while (!o.signal.aborted && !failure && inFlight < window && queue.length) {
        const req = queue.shift()!;
        const batch: InFlight = {
          slot: freeSlots.pop() ?? 0,
          batchId: req.batchId,
          files: req.files.length,
          bytes: req.files.reduce((n, f) => n + f.size, 0),
          firstPath: req.files[0]?.path ?? '',
        };
        inFlight++;
        o.emit({ type: 'batch-start', batch });
        o.transport
          .submit(req, { priority: o.priority })
          .then(
            async (res) => {
              o.apply(res);
              wakeIdle();
              // Cleanup after the merge committed; a failure here only leaves garbage that expires.
              await o.transport.ack?.(req).catch(() => {});
              counters.retries += res.delivery?.retries ?? 0;
              counters.stalls += res.delivery?.stalls ?? 0;
              counters.filesCached += res.delivery?.cached ?? 0;
              o.emit({
                type: 'batch-done',
                batch,
                symbols: res.counts.symbols,
                errors: res.counts.errors,
                worker: `${res.worker.host}:${res.worker.pid}/${res.worker.threadId}`,
                durationMs: res.durationMs,
              });
            },
            (err: unknown) => {
              const message = err instanceof Error ? err.message : String(err);
              if (req.files.length > 1) {
                counters.splits++;
                o.emit({ type: 'batch-failed', batch, error: message, action: 'split' });
                // Halves go first so the culprit is isolated before the run's tail.
                const [a, b] = split(req.files);
                queue.unshift(o.toRequest({ id: batchId(a), files: a }), o.toRequest({ id: batchId(b), files: b }));
              } else {
                o.emit({ type: 'batch-failed', batch, error: message, action: 'file-error' });
                o.applyFileError(req.files[0], `isolated: its batch failed every attempt (${message})`.slice(0, 500));
              }
            },
          )
          .catch((err: unknown) => {
            failure ??= err; // a merge failure: stop handing out work and fail the run
          })
          .finally(() => {
            inFlight--;
            freeSlots.push(batch.slot);
            pump();
            finishIfIdle();
          });
      }
    };
    pump();
    finishIfIdle();
  });
}
