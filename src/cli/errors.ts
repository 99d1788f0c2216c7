export { UsageError } from '../config/options.js';

export const EXIT = {
  ok: 0,
  /** Per-file errors exceeded --max-errors. */
  fileErrors: 1,
  /** Bad argument, path, config, or an unreachable service. */
  usage: 2,
  /** A bug: printed with its stack. */
  internal: 70,
  /** Stopped by SIGINT/SIGTERM; the previous index is intact. */
  interrupted: 130,
} as const;
