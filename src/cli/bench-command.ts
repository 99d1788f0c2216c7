import type { Argv } from 'yargs';

/** `mcp-index bench`: throughput, scaling and cost measured side by side. */
export function registerBenchCommand<T>(y: Argv<T>): Argv<T> {
  return y;
}
