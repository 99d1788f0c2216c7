import type { IndexOptions } from '../config/options.js';
import { IndexStore } from '../index-store/store.js';
import { runIndex } from '../pipeline/run.js';
import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import { LocalTransport } from '../transport/local.js';
import type { Transport } from '../transport/types.js';
import { createRenderer, type Renderer } from '../ui/progress.js';
import { formatSummary } from '../ui/summary.js';
import { nativeModuleProblem } from './native.js';
import { EXIT, UsageError } from '../errors.js';

/**
 * SIGINT/SIGTERM: the first stops handing out batches and lets in-flight ones finish (a parse is never
 * interrupted); the second exits at once. Either way the previous index stays intact, because a run only ever
 * renames a finished build over it.
 *
 * The second signal ends the process by re-raising that signal with its default action (shell status 130 for
 * SIGINT, 143 for SIGTERM), not with process.exit(): exit() terminates the pool's threads, and a thread terminated
 * while tree-sitter is reading its input through the JS callback throws a C++ exception through C frames, which
 * aborts the whole process (SIGABRT, status 134). `onHardStop` runs first (synchronous cleanup).
 */
export function interruptController(onHardStop?: () => void): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) {
      ac.abort();
      return;
    }
    try {
      onHardStop?.();
    } catch {
      // best effort: quitting matters more
    }
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    process.kill(process.pid, sig);
    process.exit(EXIT.interrupted); // not reached: the default action of `sig` ends the process
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
  /** Only these repo-relative paths (--files, --changed-since). */
  only?: ReadonlySet<string> | null;
  /** Sees every pipeline event after the renderer. */
  onEvent?: (e: PipelineEvent) => void;
  onRenderer?: (r: Renderer) => void;
}

export async function indexCommand(
  o: IndexOptions,
  makeTransport: () => Promise<Transport> = async () => LocalTransport.forRun(o),
  extras: IndexCommandExtras = {},
): Promise<number> {
  // A hard stop (second signal) skips the writer's abort: remove the build here, unless it is kept for a resume.
  const { signal, dispose } = interruptController(extras.resumable ? undefined : () => IndexStore.discardBuild(o.out));
  // A parser that cannot load fails every batch the same way: stop at the first, leaving the previous index.
  const broken = new AbortController();
  let native: string | null = null;
  const transport = await makeTransport();
  const renderer = createRenderer(o.progress, o.quiet, transport.name === 'local' ? transport.capacity : 0, o.progressInterval);
  extras.onRenderer?.(renderer);
  let summary: RunSummary;
  try {
    summary = await runIndex(o, {
      transport,
      signal: AbortSignal.any([signal, broken.signal]),
      resumable: extras.resumable,
      only: extras.only,
      onEvent: (e) => {
        renderer.onEvent(e);
        extras.onEvent?.(e);
        if (e.type === 'batch-failed' && !native && (native = nativeModuleProblem(e.error))) broken.abort();
      },
    });
  } finally {
    renderer.stop();
    await transport.close();
    dispose();
  }
  if (native) throw new UsageError(native);
  if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!o.quiet) process.stderr.write(formatSummary(summary) + '\n');
  if (summary.interrupted) return EXIT.interrupted;
  if (summary.index.fileErrors > o.maxErrors) {
    if (!o.quiet) process.stderr.write(`mcp-index: ${summary.index.fileErrors} files had errors, more than --max-errors ${o.maxErrors}\n`);
    return EXIT.fileErrors;
  }
  return EXIT.ok;
}
