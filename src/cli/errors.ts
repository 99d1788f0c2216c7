export { UsageError } from '../config/options.js';

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
