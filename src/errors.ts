/**
 * The known errors and the process exit codes. A known error is the user's to fix (or a run that stopped on
 * purpose): it is printed as one line and ends the process with its code. Anything else is a bug: exit 70 with the
 * stack (`reportError`).
 */

export const EXIT = {
  ok: 0,
  /** Per-file errors exceeded --max-errors. */
  fileErrors: 1,
  /** Bad argument, path, config, or an unreachable service. */
  usage: 2,
  /** A bug: printed with its stack. */
  internal: 70,
  /**
   * The run stopped without committing: Redis refused its writes (full, read-only, no rights), the run was cancelled,
   * its deadline passed, or too many files crashed their batches. The previous index is intact. Workers: stopped
   * without handing back every batch (Redis away), whose leases then expire.
   */
  runFailed: 75,
  /** A worker passed its --max-memory between batches: it handed back its batches and exited, to be started afresh. */
  overMemory: 76,
  /** Stopped by SIGINT/SIGTERM; the previous index is intact. */
  interrupted: 130,
} as const;

abstract class KnownError extends Error {
  abstract readonly exitCode: number;
  /** The one line the CLI prints. */
  get line(): string {
    return this.message;
  }
}

/** A bad argument, path, config, or an unreachable service. */
export class UsageError extends KnownError {
  readonly exitCode = EXIT.usage;
}

/** A bad query argument: the CLI prints it as a usage error, the MCP server returns it as a tool error. */
export class QueryError extends UsageError {}

/** No index where one was looked for. */
export class IndexNotFoundError extends UsageError {}

/** The index file is damaged (a torn write, a disk error): the next index run or `reindex` rebuilds it. */
export class IndexCorruptError extends IndexNotFoundError {}

/**
 * The run cannot go on, whatever becomes of its batches: the machinery that runs them failed (Redis full, read-only,
 * refusing the user's rights), the run was cancelled, its deadline passed, or too many files crashed their batches.
 * A transport rejects `submit` with it when no retry or split can help, and the pipeline stops without committing:
 * the previous index is left as it was.
 */
export class RunFailedError extends KnownError {
  readonly exitCode = EXIT.runFailed;
  constructor(
    message: string,
    /** Stopped on purpose (`mcp-index runs cancel`), not by a fault. */
    readonly cancelled = false,
  ) {
    super(message);
  }
  override get line(): string {
    return `run failed: ${this.message}; nothing was committed, the previous index is unchanged`;
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

export function isKnownError(err: unknown): err is KnownError {
  return err instanceof KnownError;
}

/** Writes what the user needs to know about `err` on stderr and returns the exit code. */
export function reportError(err: unknown): number {
  // The reader of our output went away (`mcp-index export | head`): nothing more to say, as with any Unix tool.
  if ((err as NodeJS.ErrnoException | null)?.code === 'EPIPE') return EXIT.ok;
  if (isKnownError(err)) {
    process.stderr.write(`mcp-index: ${err.line}\n`);
    return err.exitCode;
  }
  process.stderr.write(`mcp-index: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.internal;
}
