import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { buildOptions, resolveRoot, type IndexOptions } from '../config/options.js';
import { defaultIndexPath } from '../index-store/location.js';
import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import { runIndex } from '../pipeline/run.js';
import { watchRepository } from '../pipeline/watch.js';
import { LocalTransport } from '../transport/local.js';
import { nativeModuleProblem } from '../cli/native.js';
import { QueryError, UsageError } from '../errors.js';

export interface RepoOptions {
  /** Keep the index current by watching the tree (the default when the repository is known). */
  watch: boolean;
  /** Quiet time after a change before it is indexed. */
  debounceMs: number;
  log: (line: string) => void;
  /** Called after every finished update (the server warms its query threads). */
  onUpdated?: (repo: ServedRepo) => void;
}

/**
 * One repository the server answers for: its index, and the one lane through which every update of that index
 * runs (the watcher's, the reindex tool's, a rebuild after damage), so that two runs never write it at once.
 * Answers wait until the changes seen so far are indexed (`fresh`), for a bounded time.
 */
export class ServedRepo {
  private lane: Promise<unknown> = Promise.resolve();
  /** Change events seen, and how many of them finished runs have covered. */
  private seen = 0;
  private synced = 0;
  /** Runs queued or running. */
  private active = 0;
  private waiters: (() => void)[] = [];
  private readonly stop = new AbortController();
  private watching: Promise<void> | null = null;
  private watchFailed = false;
  private rebuilding = false;
  /** The options of this repository's runs (null when its root is unknown: the index is served read-only). */
  private readonly options: IndexOptions | null;
  /** Set while a reindex tool call listens to its run's progress. */
  private listener: ((e: PipelineEvent) => void) | null = null;
  lastUpdate: RunSummary | null = null;
  lastFailure: string | null = null;

  constructor(
    readonly name: string,
    readonly root: string | null,
    readonly indexPath: string,
    private readonly opts: RepoOptions,
  ) {
    this.options = root ? buildOptions(root, { out: indexPath, progress: 'none', quiet: true }) : null;
  }

  get watched(): boolean {
    return this.watching !== null && !this.watchFailed;
  }

  /** Changes seen by the watcher so far (undefined when not watching): caches keyed on it are redone when it moves. */
  get generation(): number | undefined {
    return this.watched ? this.seen : undefined;
  }

  /** Starts watching: an update now (which builds the index if there is none), then one per burst of changes. */
  start(): void {
    if (!this.options || !this.opts.watch || this.watching) return;
    const o = this.options;
    this.watching = watchRepository(o, {
      debounceMs: this.opts.debounceMs,
      signal: this.stop.signal,
      run: (only) => this.update(only, false),
      onChange: () => void this.seen++,
      onRun: (s, changed) => {
        const errors = s.index.fileErrors ? `, ${s.index.fileErrors} files with errors` : '';
        this.opts.log(`${this.name}: ${changed} changed path(s): parsed ${s.run.filesParsed}, removed ${s.run.filesRemoved} in ${s.timings.totalMs} ms${errors}`);
      },
      onError: (err) => this.opts.log(`${this.name}: update failed: ${err instanceof Error ? err.message : String(err)}`),
      onReady: () => this.opts.log(`${this.name}: watching ${o.root}`),
    }).catch((err: unknown) => {
      // chokidar could not watch (e.g. too many folders for inotify): answers still come from the last index
      this.watchFailed = true;
      this.opts.log(`${this.name}: not watching: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** True when every change seen has been indexed and no update is running. */
  isFresh(): boolean {
    return this.active === 0 && this.synced >= this.seen;
  }

  /** Waits until the index holds every change seen so far, for at most `maxMs`; false if it did not get there. */
  fresh(maxMs: number): Promise<boolean> {
    if (this.isFresh()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, maxMs);
      this.waiters.push(done);
    });
  }

  /**
   * Updates the index (incrementally, or from scratch with `full`), after any update already queued. `cancel` (a
   * client cancelling its reindex) stops it like SIGINT stops a run: the previous index stays.
   */
  update(only: ReadonlySet<string> | null, full: boolean, onEvent?: (e: PipelineEvent) => void, cancel?: AbortSignal): Promise<RunSummary> {
    if (!this.options) return Promise.reject(new QueryError('the repository is unknown: start the server with --repo PATH'));
    const o = full ? { ...this.options, full: true } : this.options;
    const covers = this.seen;
    this.active++;
    const job = this.lane.then(async () => {
      const transport = LocalTransport.forRun(o);
      this.listener = onEvent ?? null;
      // A parser that cannot load fails every batch the same way: stop at the first and say why.
      const broken = new AbortController();
      let native: string | null = null;
      try {
        const s = await runIndex(o, {
          transport,
          only,
          signal: AbortSignal.any([this.stop.signal, broken.signal, ...(cancel ? [cancel] : [])]),
          onEvent: (e) => {
            this.listener?.(e);
            if (e.type === 'batch-failed' && !native && (native = nativeModuleProblem(e.error))) broken.abort();
          },
        });
        if (native) throw new QueryError(native);
        return s;
      } finally {
        this.listener = null;
        await transport.close();
      }
    });
    this.lane = job.catch(() => {});
    return job.then(
      (s) => {
        this.lastUpdate = s;
        this.lastFailure = null;
        this.finish(covers);
        if (!s.interrupted) this.opts.onUpdated?.(this);
        return s;
      },
      (err: unknown) => {
        this.lastFailure = err instanceof Error ? err.message : String(err);
        this.finish(covers);
        throw err;
      },
    );
  }

  private finish(covers: number): void {
    this.active--;
    this.synced = Math.max(this.synced, covers);
    if (this.isFresh()) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** A query found the index damaged: rebuild it from scratch (once at a time). */
  rebuild(): void {
    if (this.rebuilding || !this.options) return;
    this.rebuilding = true;
    this.opts.log(`${this.name}: the index is damaged; rebuilding it`);
    this.update(null, true)
      .catch((err: unknown) => this.opts.log(`${this.name}: rebuild failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (this.rebuilding = false));
  }

  /** Stops watching and lets a running update finish (an interrupted one leaves the previous index in place). */
  async close(): Promise<void> {
    this.stop.abort();
    await this.watching;
    await this.lane;
  }
}

/** The repositories one server answers for: those given at start, and others a tool call names by path. */
export class RepoSet {
  readonly repos: ServedRepo[] = [];
  /** Repositories opened because a tool call named them, beyond those given at start. */
  private static readonly MAX_EXTRA = 8;
  private extra = 0;

  constructor(
    private readonly opts: RepoOptions,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  add(root: string | null, indexPath: string): ServedRepo {
    const base = root ? basename(root) : basename(indexPath, '.db');
    let name = base;
    for (let i = 2; this.repos.some((r) => r.name === name); i++) name = `${base}-${i}`;
    const repo = new ServedRepo(name, root, indexPath, this.opts);
    this.repos.push(repo);
    return repo;
  }

  /**
   * The repository a tool call means: none given, the first; else one served under that name or root; else a
   * folder path, served from now on (with its default index, watched like the others).
   */
  pick(arg: string | undefined): ServedRepo {
    if (arg === undefined || arg === '') return this.repos[0];
    const byName = this.repos.find((r) => r.name === arg);
    if (byName) return byName;
    let real: string;
    try {
      real = realpathSync(resolve(arg));
    } catch {
      throw new QueryError(`unknown repository "${arg}": served are ${this.repos.map((r) => `${r.name} (${r.root ?? r.indexPath})`).join(', ')}; or give the path of a folder`);
    }
    const byRoot = this.repos.find((r) => r.root === real);
    if (byRoot) return byRoot;
    if (!statSync(real).isDirectory()) throw new QueryError(`repository "${arg}" is not a folder`);
    if (this.extra >= RepoSet.MAX_EXTRA) throw new QueryError(`this server already serves ${this.repos.length} repositories; start another for ${real}`);
    let root: string;
    try {
      root = resolveRoot(real);
    } catch (err) {
      throw new QueryError(err instanceof UsageError ? err.message : String(err));
    }
    this.extra++;
    const repo = this.add(root, defaultIndexPath(root, this.env));
    this.opts.log(`serving ${repo.name} (${root}) from ${repo.indexPath}${existsSync(repo.indexPath) ? '' : ' (no index yet)'}`);
    repo.start();
    return repo;
  }

  async close(): Promise<void> {
    await Promise.all(this.repos.map((r) => r.close()));
  }
}
