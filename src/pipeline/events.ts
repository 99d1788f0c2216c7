import type { IndexStats } from '../index-store/stats.js';
import type { FileFailure } from '../protocol/types.js';

export type Phase = 'discover' | 'hash' | 'plan' | 'index' | 'commit' | 'done';

export interface RunSummary {
  root: string;
  out: string;
  runId: string;
  /** A cluster run that picked up an interrupted build of the same plan. */
  resumed: boolean;
  transport: 'local' | 'redis';
  threads: number;
  /** true when stopped by a signal: the previous index was left in place. */
  interrupted: boolean;
  discovery: 'git' | 'walk';
  run: {
    filesSeen: number;
    /** Files not indexed because their language is turned off (`languages`), per language. */
    languagesOff: Partial<Record<string, number>>;
    /** Parsed by a worker in this run. */
    filesParsed: number;
    /** Cluster: answered from the shared result cache, so parsed by no one. */
    filesCached: number;
    /** Unchanged since the previous index (incremental): kept without a parse. */
    filesReused: number;
    filesRemoved: number;
    bytesParsed: number;
    batches: number;
    /** Batches that failed and were split to isolate a bad file. */
    splits: number;
    retries: number;
    stalls: number;
  };
  index: IndexStats;
  timings: { discoverMs: number; hashMs: number; planMs: number; indexMs: number; commitMs: number; totalMs: number };
  throughput: { filesPerSec: number; mbPerSec: number; symbolsPerSec: number };
  peakRssMb: number;
  /** Cluster runs: the shared result cache's use by this run. */
  cache?: { enabled: boolean; hits: number; misses: number };
  /** Cluster runs: blob requests from workers that could not read files themselves, and what they uploaded. */
  blobs?: { requests: number; uploaded: number; bytes: number };
  /** Set when the previous index was found damaged and this run rebuilt it from scratch: why. */
  rebuilt?: string;
}

export interface InFlight {
  slot: number;
  batchId: string;
  files: number;
  bytes: number;
  firstPath: string;
}

/** One file that ended with an error (or partially indexed), as progress reports it. */
export type FileErrorSample = FileFailure;

export type PipelineEvent =
  | { type: 'phase'; phase: Phase }
  | { type: 'discovered'; files: number; bytes: number; skipped: number; source: 'git' | 'walk' }
  | { type: 'planned'; runId: string; batches: number; files: number; bytes: number; reused: number }
  | { type: 'batch-start'; batch: InFlight }
  | {
      type: 'batch-done';
      batch: InFlight;
      symbols: number;
      errors: number;
      /** The batch's files with an error or a partial parse (`errors` of them). */
      fileErrors: FileErrorSample[];
      worker: string;
      durationMs: number;
    }
  | { type: 'batch-failed'; batch: InFlight; error: string; action: 'split' | 'file-error' }
  | { type: 'worker'; id: string; state: 'alive' | 'lost'; detail?: string }
  /** `kept`: the in-flight batches stay queued for a rerun (cluster) instead of being waited for. */
  | { type: 'interrupt'; inFlight: number; kept: boolean }
  /**
   * For `idleMs` no worker was alive, or none ran or finished a batch, while `inFlight` of ours waited.
   * `workersAlive` is null when the transport did not answer (Redis away).
   */
  | { type: 'stalled'; idleMs: number; workersAlive: number | null; inFlight: number }
  /** The run stopped without committing (a RunFailedError): the previous index is left as it was. */
  | { type: 'failed'; reason: string; cancelled: boolean }
  | { type: 'done'; summary: RunSummary };

export type EventSink = (e: PipelineEvent) => void;
