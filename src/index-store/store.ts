/**
 * The store behind one handle: what the previous index holds, the build of the next one (apply, commit, abort),
 * and its totals. The pipeline talks to the index only through this, so that another backend, or shards behind the
 * same handle, never touch the pipeline.
 *
 * A big build runs its writer on a thread of its own (writer-thread.ts): merging fragments is SQLite work that
 * would otherwise share one thread with receiving results. A small one (a patch, a few files) runs it here.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SkippedFile } from '../discover/discover.js';
import type { FileRef, FileResult } from '../protocol/types.js';
import { diskFull } from '../errors.js';
import { spoolDir } from './fragment.js';
import { openIndex, priorFiles, type PriorRow } from './reader.js';
import { BuildSession, type CommitOptions } from './session.js';
import { indexStats, type IndexStats } from './stats.js';
import type { WriterCall, WriterReply, WriterThreadData } from './writer-thread.js';
import { isCompatible, removeBuild } from './writer.js';

export type { IndexStats } from './stats.js';
export type { PriorRow } from './reader.js';
export type { CommitOptions } from './session.js';

// Resolves to dist/index-store/writer-thread.js from both src/index-store (tests) and dist/index-store (the CLI).
const WRITER_THREAD = fileURLToPath(new URL('../../dist/index-store/writer-thread.js', import.meta.url));

export interface StoreOptions {
  extractorVersion: number;
  /** Ignore the previous index (--full): no prior state, a build from scratch. */
  full?: boolean;
}

export interface BeginOptions {
  /** Keep each batch durable so that a restarted run with this key picks the build up (cluster mode). */
  resumeKey?: string;
  /** A small change: patch the index in one transaction instead of building a copy. */
  patch?: boolean;
  /** Modification times from discovery, recorded with each file. */
  mtimes: ReadonlyMap<string, number>;
  /** A big build: run the writer on a thread of its own (see above). */
  background?: boolean;
}

type Method = keyof BuildSession;
type Call = <M extends Method>(method: M, ...args: Parameters<BuildSession[M]>) => Promise<Awaited<ReturnType<BuildSession[M]>>>;

/** The writer on a thread: every call a message, answered in order. */
interface Caller {
  call: Call;
  close: () => Promise<void>;
  /** The writer thread's event loop utilisation (null: the writer runs on the caller's thread). */
  elu: (since?: EventLoopUtilization) => EventLoopUtilization | null;
}

function threadCaller(path: string, data: WriterThreadData): Caller {
  const worker = new Worker(WRITER_THREAD, { workerData: data });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let dead: Error | null = null;
  const failAll = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: WriterReply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(Object.assign(new Error(r.error.message), { stack: r.error.stack, code: r.error.code }));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`the index writer thread for ${path} exited (${code})`)));
  const call = ((method: Method, ...args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = ++seq;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args } satisfies WriterCall);
    })) as Call;
  return { call, close: () => worker.terminate().then(() => {}), elu: (since) => worker.performance.eventLoopUtilization(since) };
}

export class IndexStore {
  /** Every file of the previous index, when there is a compatible one and the run may reuse it; else null. */
  readonly prior: ReadonlyMap<string, PriorRow> | null;
  private session: (Caller & { resumed: boolean; inPlace: boolean }) | null = null;
  /** Batches to merge, sent to the writer as one call whenever it is not busy with the previous one. */
  private waiting: { batch: readonly [string, readonly string[]]; resolve: (merged: boolean) => void; reject: (e: Error) => void }[] = [];
  private sending = false;

  private constructor(
    readonly path: string,
    private readonly o: StoreOptions,
  ) {
    let prior: Map<string, PriorRow> | null = null;
    if (!o.full && existsSync(path) && isCompatible(path, o.extractorVersion)) {
      const db = openIndex(path);
      try {
        prior = priorFiles(db);
      } finally {
        db.close();
      }
    }
    this.prior = prior;
  }

  static open(path: string, o: StoreOptions): IndexStore {
    return new IndexStore(path, o);
  }

  /** Removes what a hard-stopped run left beside the index (its unfinished build). */
  static discardBuild(path: string): void {
    removeBuild(path);
  }

  /** The previous index's totals as its last run recorded them (cheaper than counting), or counted when unrecorded. */
  lastStats(): IndexStats {
    const db = openIndex(this.path);
    try {
      const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'last_summary'").get();
      try {
        const index = row ? (JSON.parse(row.value) as { index?: IndexStats }).index : undefined;
        if (index) return index;
      } catch {
        // unreadable: count
      }
      return indexStats(db);
    } finally {
      db.close();
    }
  }

  /** Starts writing the next index (nothing is visible to readers before commit). */
  async begin(o: BeginOptions): Promise<void> {
    if (this.session) throw new Error('the store is already writing');
    const { background, ...rest } = o;
    const opts = { incremental: this.prior !== null, extractorVersion: this.o.extractorVersion, ...rest };
    spoolDir(); // fragments wait there: made from this thread, which then removes it at exit
    let caller: Caller;
    if (background) {
      caller = threadCaller(this.path, { path: this.path, opts });
    } else {
      const s = new BuildSession(this.path, opts);
      caller = { call: (async (method: Method, ...args: unknown[]) => (s[method] as (...a: unknown[]) => unknown).apply(s, args)) as Call, close: async () => {}, elu: () => null };
    }
    // A full disk fails the run with one line (errors.ts diskFull), whichever call meets it.
    const raw = caller.call as (m: Method, ...a: unknown[]) => Promise<unknown>;
    caller = { ...caller, call: ((method: Method, ...args: unknown[]) => raw(method, ...args).catch((err: unknown) => Promise.reject(diskFull(err, dirname(this.path)) ?? err))) as Call };
    try {
      const info = await caller.call('info');
      this.session = { ...caller, ...info };
    } catch (err) {
      await caller.close();
      throw err;
    }
  }

  private get s() {
    if (!this.session) throw new Error('the store is not writing: call begin() first');
    return this.session;
  }

  /** How busy the writer's own thread has been (bench); null when it runs on the caller's thread. */
  writerUtilization(since?: EventLoopUtilization): EventLoopUtilization | null {
    return this.session?.elu(since) ?? null;
  }

  /** CPU time of the writer's thread so far, in ms (bench; null where it cannot be read). */
  writerCpuMs(): Promise<number | null> {
    return this.s.call('threadCpuMs');
  }

  /** True when begin() picked up an interrupted build with the same resume key. */
  get resumed(): boolean {
    return this.s.resumed;
  }

  /** Batches already in the build (only when resumed). */
  async mergedBatches(): Promise<Set<string>> {
    return new Set(await this.s.call('mergedBatches'));
  }

  /**
   * Merges one batch's fragments in one transaction; false when the batch was merged already (a redelivery).
   * Batches that arrive while the writer is busy go to it together, as one group (one commit).
   */
  apply(batchId: string, fragments: readonly string[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch: [batchId, fragments], resolve, reject });
      this.sendWaiting();
    });
  }

  private sendWaiting(): void {
    if (this.sending || !this.waiting.length) return;
    const group = this.waiting.splice(0);
    this.sending = true;
    this.s
      .call('applyMany', group.map((g) => g.batch))
      .then(
        (merged) => group.forEach((g, i) => g.resolve(merged[i])),
        (err: Error) => group.forEach((g) => g.reject(err)),
      )
      .finally(() => {
        this.sending = false;
        this.sendWaiting();
      });
  }

  /** Files recorded without a parse: skipped at discovery, or isolated from a batch that kept failing. */
  applySkipped(skipped: readonly SkippedFile[]): Promise<void> {
    return this.s.call('applySkipped', skipped);
  }

  applyFiles(files: readonly FileResult[]): Promise<void> {
    return this.s.call('applyFiles', files);
  }

  /** Unchanged files seen with a new mtime. */
  touch(files: readonly FileRef[], mtimes: ReadonlyMap<string, number>): Promise<void> {
    return this.s.call('touch', files.map((f): [string, number] => [f.path, mtimes.get(f.path) ?? 0]));
  }

  /** Copies an indexed file's rows to a new path (a rename or copy); false when the source is not indexed. */
  copyFile(fromPath: string, toPath: string, mtimeMs: number): Promise<boolean> {
    return this.s.call('copyFile', fromPath, toPath, mtimeMs);
  }

  /** Removes files not in `present` (within `only`, when given); returns how many. */
  removeAllExcept(present: ReadonlySet<string>, only: ReadonlySet<string> | null): Promise<number> {
    return this.s.call('removeAllExcept', present, only);
  }

  /** Totals of the index as it will be committed. */
  stats(): Promise<IndexStats> {
    return this.s.call('stats');
  }

  /** Makes the build the index (atomically), after the deferred work and, when asked or present, the content index. */
  async commit(o: CommitOptions): Promise<void> {
    const s = this.s;
    try {
      await s.call('commit', o);
    } finally {
      this.session = null;
      await s.close();
    }
  }

  /** Leaves the previous index as it was. `keep`: the build stays for a resume. */
  async abort(keep = false): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = null;
    try {
      await s.call('abort', keep);
    } finally {
      await s.close();
    }
  }
}
