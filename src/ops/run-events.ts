/** The programmatic API's typed run events, derived from the pipeline's events. */
import type { Phase, PipelineEvent } from '../pipeline/events.js';

export interface IndexProgress {
  phase: Phase;
  /** Files and bytes this run parses (unchanged files are reused, not counted here). */
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
  batchesTotal: number;
  batchesDone: number;
  /** Batches in flight right now. */
  inFlight: number;
  symbols: number;
  /** Files with errors so far (partial files included). */
  errors: number;
}

export interface BatchCompleted {
  batchId: string;
  files: number;
  bytes: number;
  symbols: number;
  errors: number;
  /** host:pid/thread that ran it. */
  worker: string;
  durationMs: number;
}

export interface BatchFailed {
  batchId: string;
  files: number;
  bytes: number;
  error: string;
  /** split: retried as two halves; file-error: a single file that keeps failing, recorded as a worker-crash error. */
  action: 'split' | 'file-error';
}

export interface WorkerLost {
  id: string;
  host: string;
  pid: string;
  lastSeenMsAgo: number;
}

/** Event map of a coordinator (`coordinator.on(...)`). */
export interface IndexEvents {
  progress: [IndexProgress];
  'batch-completed': [BatchCompleted];
  'batch-failed': [BatchFailed];
  'worker-lost': [WorkerLost];
  /** Every raw pipeline event. */
  event: [PipelineEvent];
}

/** Per-run callbacks (`indexRepository(path, { onProgress })`, `coordinator.index(path, { onProgress })`). */
export interface IndexCallbacks {
  onProgress?: (p: IndexProgress) => void;
  onBatchCompleted?: (b: BatchCompleted) => void;
  onBatchFailed?: (b: BatchFailed) => void;
  onEvent?: (e: PipelineEvent) => void;
}

type Sink = <K extends keyof IndexEvents>(name: K, ...args: IndexEvents[K]) => void;

/** Feeds pipeline events in, calls `sink` with typed events out. */
export function runEventTranslator(sink: Sink): (e: PipelineEvent) => void {
  const p: IndexProgress = { phase: 'discover', filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, batchesTotal: 0, batchesDone: 0, inFlight: 0, symbols: 0, errors: 0 };
  const progress = () => sink('progress', { ...p });
  return (e) => {
    sink('event', e);
    switch (e.type) {
      case 'phase':
        p.phase = e.phase;
        progress();
        break;
      case 'planned':
        p.filesTotal = e.files;
        p.bytesTotal = e.bytes;
        p.batchesTotal = e.batches;
        progress();
        break;
      case 'batch-start':
        p.inFlight++;
        break;
      case 'batch-done':
        p.inFlight--;
        p.batchesDone++;
        p.filesDone += e.batch.files;
        p.bytesDone += e.batch.bytes;
        p.symbols += e.symbols;
        p.errors += e.errors;
        sink('batch-completed', { batchId: e.batch.batchId, files: e.batch.files, bytes: e.batch.bytes, symbols: e.symbols, errors: e.errors, worker: e.worker, durationMs: e.durationMs });
        progress();
        break;
      case 'batch-failed':
        p.inFlight--;
        if (e.action === 'split') p.batchesTotal++; // two halves replace one batch
        else {
          p.batchesDone++;
          p.filesDone += e.batch.files;
          p.bytesDone += e.batch.bytes;
          p.errors += e.batch.files;
        }
        sink('batch-failed', { batchId: e.batch.batchId, files: e.batch.files, bytes: e.batch.bytes, error: e.error, action: e.action });
        progress();
        break;
    }
  };
}

/** Routes typed events to per-run callbacks. */
export function callbackSink(cb: IndexCallbacks): Sink {
  return (name, ...args) => {
    const a = args[0] as never;
    if (name === 'progress') cb.onProgress?.(a);
    else if (name === 'batch-completed') cb.onBatchCompleted?.(a);
    else if (name === 'batch-failed') cb.onBatchFailed?.(a);
    else if (name === 'event') cb.onEvent?.(a);
  };
}
