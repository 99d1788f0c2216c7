import type { BatchHeader, JobRequest, Priority } from '../protocol/types.js';

/** A batch as a transport hands it to the merge: its header, and its rows as fragment files of this process. */
export interface BatchResult extends BatchHeader {
  /** SQLite fragments in this process's spool (index-store/fragment.ts); the store removes them as it merges. */
  fragments: string[];
  /**
   * Filled in by a transport that retries: how many extra attempts and stalls it took to get this result, and
   * (Redis transport) how many of its files came from the shared result cache instead of a parse.
   */
  delivery?: { retries: number; stalls: number; cached?: number };
}

/**
 * What the pipeline needs from a transport. Both the local pool and the Redis queue implement it, and the same
 * conformance suite runs against each.
 */
export interface Transport {
  readonly name: 'local' | 'redis';
  /** How many batches to keep in flight: enough to keep every worker busy, few enough to stop quickly. */
  readonly capacity: number;
  /**
   * Extra batches the pipeline may hand over beyond `capacity`, queued inside the transport, so a worker that
   * finishes never waits for the coordinator (busy merging) to hand it the next one.
   */
  readonly prefetch?: number;
  /**
   * Runs one batch to completion. Resolves with its result; rejects once the transport's own retries are spent
   * (the pipeline then splits the batch to isolate the file that breaks it).
   */
  submit(req: JobRequest, opts?: { priority?: Priority }): Promise<BatchResult>;
  /** Told once per run, before the first submit, what the run will submit. */
  expect?(requests: readonly JobRequest[]): void;
  /** Called once a result is merged (or found merged on resume): the transport may drop what it kept for it. */
  ack?(req: JobRequest): Promise<void>;
  /**
   * In-flight batches live outside this process (a queue): the pipeline need not wait for them when it stops early,
   * because a later run of the same plan collects them. Without it, a stop waits for the batches in flight.
   */
  readonly durable?: boolean;
  /** Asked by the pipeline's watchdog while batches are in flight. */
  health?(runId: string): Promise<TransportHealth>;
  /**
   * The run is over for good: committed (`failure` null), or failed. Drops whatever the transport still holds for
   * it (a failure drops everything it uploaded). Not called for an interrupted run, which a rerun resumes.
   */
  release?(runId: string, failure: RunFailedError | null): Promise<void>;
  /** Waits for in-flight work, then releases threads and connections. Never interrupts a parse. */
  close(): Promise<void>;
}

export interface TransportHealth {
  /** Workers with a live heartbeat. */
  workersAlive: number;
  /** Batches a worker is running right now (any run's). */
  running: number;
  /** A condition under which none of the run's batches can complete (Redis refusing writes, run cancelled). */
  fatal?: RunFailedError;
}

/**
 * The run cannot go on, whatever becomes of its batches: the machinery that runs them failed (Redis full, read-only,
 * refusing the user's rights), the run was cancelled, its deadline passed, or too many files crashed their batches.
 * A transport rejects `submit` with it when no retry or split can help, and the pipeline stops without committing:
 * the previous index is left as it was. A known error: the CLI prints its message as one line and exits 75.
 */
export class RunFailedError extends Error {
  readonly exitCode = 75;
  constructor(
    message: string,
    /** Stopped on purpose (`mcp-index runs cancel`), not by a fault. */
    readonly cancelled = false,
  ) {
    super(message);
  }
}

const DISK_FULL = /\b(ENOSPC|EFBIG|EDQUOT|SQLITE_FULL|SQLITE_IOERR\w*)\b|database or disk is full|disk I\/O error/;

/**
 * A write that failed because the disk is full (or over a quota or file-size limit, or failing): no retry or split
 * cures it, so it fails the run, named as what it is, instead of splitting batches or printing a stack.
 */
export function diskFull(err: unknown, where: string, remedy = 'free space there or choose another --out'): RunFailedError | null {
  const text = `${(err as NodeJS.ErrnoException)?.code ?? ''} ${(err as Error)?.message ?? String(err)}`;
  const m = DISK_FULL.exec(text);
  return m ? new RunFailedError(`cannot write to ${where}: the disk is full or failing (${m[0]}); ${remedy}`) : null;
}
