import { relative, sep } from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import picomatch from 'picomatch';
import type { IndexOptions } from '../config/options.js';
import { DEFAULT_EXCLUDES } from '../discover/discover.js';
import { LocalTransport } from '../transport/local.js';
import type { RunSummary } from './events.js';
import { runIndex } from './run.js';

export interface WatchOptions {
  debounceMs: number;
  signal: AbortSignal;
  onRun: (summary: RunSummary, changed: number) => void;
  onError: (err: unknown) => void;
  /** Resolves once the watcher is ready (tests wait for it before touching files). */
  onReady?: () => void;
  /** A change was seen; its run follows after the debounce. */
  onChange?: (path: string) => void;
  /** Runs one update over the changed paths (null: all). Default: runIndex on a pool this watcher owns. */
  run?: (only: ReadonlySet<string> | null) => Promise<RunSummary>;
}

/**
 * Re-indexes on change: an initial incremental run (while the watcher starts), then, after each burst of file events
 * (debounced), a run over just the changed paths. The index file and its build are ignored, so a run never triggers
 * itself; with no events nothing runs at all.
 */
export async function watchRepository(o: IndexOptions, w: WatchOptions): Promise<void> {
  const transport = w.run ? null : LocalTransport.forRun(o);
  const run = w.run ?? ((only: ReadonlySet<string> | null) => runIndex(o, { transport: transport!, signal: w.signal, only }));
  const excluded = picomatch([...(o.defaultExcludes ? DEFAULT_EXCLUDES : []), '**/.git/**', '.git/**'], { dot: true });
  const ownFiles = (abs: string) => abs === o.out || abs.startsWith(o.out + '.') || abs.startsWith(o.out + '-');
  const rel = (abs: string) => relative(o.root, abs).split(sep).join('/');

  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const runOnce = async (only: ReadonlySet<string> | null) => {
    const summary = await run(only);
    w.onRun(summary, only ? only.size : summary.run.filesSeen);
  };
  const flush = () => {
    timer = null;
    if (running || pending.size === 0 || w.signal.aborted) return;
    const batch = pending;
    pending = new Set();
    running = runOnce(batch)
      .catch(w.onError)
      .finally(() => {
        running = null;
        if (pending.size) schedule(); // events that arrived during the run
      });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, w.debounceMs);
  };

  const watcher = chokidarWatch(o.root, {
    ignoreInitial: true,
    ignored: (abs: string) => {
      if (ownFiles(abs)) return true;
      const r = rel(abs);
      return r !== '' && (excluded(r) || excluded(r + '/'));
    },
  });
  const onPath = (abs: string) => {
    if (ownFiles(abs)) return;
    pending.add(rel(abs));
    w.onChange?.(rel(abs));
    schedule();
  };
  watcher.on('add', onPath).on('change', onPath).on('unlink', onPath);
  watcher.on('error', w.onError);
  // Watch first, then index: a change made while the first run reads the tree is queued (flush waits for the run),
  // not missed. onReady follows both.
  const first = (running = runOnce(null)
    .catch(w.onError)
    .finally(() => {
      running = null;
    }));
  await Promise.all([new Promise<void>((resolve) => watcher.once('ready', () => resolve())), first]);
  if (pending.size) schedule();
  w.onReady?.();

  await new Promise<void>((resolve) => {
    if (w.signal.aborted) resolve();
    w.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (timer) clearTimeout(timer);
  await watcher.close();
  await running;
  await transport?.close();
}
