import { batchId, split } from '../plan/plan.js';
import type { FileRef, JobRequest, Priority } from '../protocol/types.js';
import type { BatchResult, Transport } from '../transport/types.js';
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

  o.transport.expect?.(requests);
  return new Promise((resolve, reject) => {
    const finishIfIdle = () => {
      if (inFlight > 0 || merging > 0) return;
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
        o.emit({ type: 'batch-start', batch });
        o.transport
          .submit(req, { priority: o.priority })
          .then(
            async (res) => {
              received = true;
              inFlight--;
              merging++;
              pump();
              try {
                await o.apply(res);
              } finally {
                merging--;
              }
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
            async (err: unknown) => {
              const message = err instanceof Error ? err.message : String(err);
              if (req.files.length > 1) {
                counters.splits++;
                o.emit({ type: 'batch-failed', batch, error: message, action: 'split' });
                // Halves go first so the culprit is isolated before the run's tail.
                const [a, b] = split(req.files);
                queue.unshift(o.toRequest({ id: batchId(a), files: a }), o.toRequest({ id: batchId(b), files: b }));
              } else {
                o.emit({ type: 'batch-failed', batch, error: message, action: 'file-error' });
                await o.applyFileError(req.files[0], `isolated: its batch failed every attempt (${message})`.slice(0, 500));
              }
            },
          )
          .catch((err: unknown) => {
            failure ??= err; // a merge failure: stop handing out work and fail the run
          })
          .finally(() => {
            if (!received) inFlight--;
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
