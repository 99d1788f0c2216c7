import type { IndexOptions } from '../config/options.js';
import { runIndex } from '../pipeline/run.js';
import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import { LocalTransport } from '../transport/local.js';
import type { Transport } from '../transport/types.js';
import { createRenderer, type Renderer } from '../ui/progress.js';
import { formatSummary } from '../ui/summary.js';
import { EXIT } from './errors.js';

/**
 * SIGINT/SIGTERM: the first stops handing out batches and lets in-flight ones finish (a parse is never
 * interrupted); the second exits at once. Either way the previous index stays intact, because a run only ever
 * renames a finished build over it.
 */
export function interruptController(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(EXIT.interrupted);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export interface IndexCommandExtras {
  resumable?: boolean;
  /** Sees every pipeline event after the renderer. */
  onEvent?: (e: PipelineEvent) => void;
  onRenderer?: (r: Renderer) => void;
}

export async function indexCommand(
  o: IndexOptions,
  makeTransport: () => Promise<Transport> = async () => new LocalTransport({ threads: o.threads }),
  extras: IndexCommandExtras = {},
): Promise<number> {
  const { signal, dispose } = interruptController();
  const transport = await makeTransport();
  const renderer = createRenderer(o.progress, o.quiet, transport.name === 'local' ? transport.capacity : 0, o.progressInterval);
  extras.onRenderer?.(renderer);
  let summary: RunSummary;
  try {
    summary = await runIndex(o, {
      transport,
      signal,
      resumable: extras.resumable,
      onEvent: (e) => {
        renderer.onEvent(e);
        extras.onEvent?.(e);
      },
    });
  } finally {
    renderer.stop();
    await transport.close();
    dispose();
  }
  if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!o.quiet) process.stderr.write(formatSummary(summary) + '\n');
  if (summary.interrupted) return EXIT.interrupted;
  if (summary.index.fileErrors > o.maxErrors) {
    if (!o.quiet) process.stderr.write(`mcp-index: ${summary.index.fileErrors} files had errors, more than --max-errors ${o.maxErrors}\n`);
    return EXIT.fileErrors;
  }
  return EXIT.ok;
}
