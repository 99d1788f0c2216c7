/**
 * The store behind one handle: what the previous index holds, the build of the next one (apply, commit, abort),
 * and its totals. The pipeline talks to the index only through this, so that another backend, or shards behind the
 * same handle, never touch the pipeline.
 */
import { existsSync } from 'node:fs';
import type { SkippedFile } from '../discover/discover.js';
import type { FileRef, FileResult } from '../protocol/types.js';
import { buildContentIndex, hasContentIndex } from './content.js';
import { openIndex, priorFiles, type PriorRow } from './reader.js';
import { indexStats, type IndexStats } from './stats.js';
import { IndexWriter, isCompatible, removeBuild } from './writer.js';

export type { IndexStats } from './stats.js';
export type { PriorRow } from './reader.js';

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
}

export interface CommitOptions {
  root: string;
  /** What the run recorded: a later run that changes nothing reports these totals without counting. */
  summary: unknown;
  /** Build the content (text) index; an index that has one keeps it current whatever this says. */
  contentIndex: boolean;
}

export class IndexStore {
  /** Every file of the previous index, when there is a compatible one and the run may reuse it; else null. */
  readonly prior: ReadonlyMap<string, PriorRow> | null;
  private writer: IndexWriter | null = null;

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
  begin(o: BeginOptions): void {
    if (this.writer) throw new Error('the store is already writing');
    this.writer = new IndexWriter(this.path, { incremental: this.prior !== null, extractorVersion: this.o.extractorVersion, ...o });
  }

  private get w(): IndexWriter {
    if (!this.writer) throw new Error('the store is not writing: call begin() first');
    return this.writer;
  }

  /** True when begin() picked up an interrupted build with the same resume key. */
  get resumed(): boolean {
    return this.w.resumed;
  }

  /** Batches already in the build (only when resumed). */
  mergedBatches(): Set<string> {
    return this.w.mergedBatches();
  }

  /** Merges one batch's fragments in one transaction; false when the batch was merged already (a redelivery). */
  apply(batchId: string, fragments: readonly string[]): boolean {
    return this.w.apply(batchId, fragments);
  }

  /** Files recorded without a parse: skipped at discovery, or isolated from a batch that kept failing. */
  applySkipped(skipped: readonly SkippedFile[]): void {
    this.w.applySkipped(skipped);
  }

  applyFiles(files: readonly FileResult[]): void {
    this.w.applyFiles(files);
  }

  /** Unchanged files seen with a new mtime. */
  touch(files: readonly FileRef[], mtimes: ReadonlyMap<string, number>): void {
    this.w.touch(files.map((f) => [f.path, mtimes.get(f.path) ?? 0]));
  }

  /** Copies an indexed file's rows to a new path (a rename or copy); false when the source is not indexed. */
  copyFile(fromPath: string, toPath: string, mtimeMs: number): boolean {
    return this.w.copyFile(fromPath, toPath, mtimeMs);
  }

  /** Removes files not in `present` (within `only`, when given); returns how many. */
  removeAllExcept(present: ReadonlySet<string>, only: ReadonlySet<string> | null): number {
    return this.w.removeAllExcept(present, only);
  }

  /**
   * Work the store defers while results keep coming (the symbol search rows): one small step of it. Returns false
   * when none is left. The merge calls it when no result is waiting.
   */
  idle(): boolean {
    return this.w.ftsStep();
  }

  /** Totals of the index as it will be committed. */
  stats(): IndexStats {
    if (this.w.inPlace) this.w.finish(); // a patch's rows wait in its spool until then
    return indexStats(this.w.db);
  }

  /** Makes the build the index (atomically), after the deferred work and, when asked or present, the content index. */
  async commit(o: CommitOptions): Promise<void> {
    const w = this.w;
    w.finish();
    // Content search: a trigram index of the text, kept in step with the files table. Opt-in (it roughly doubles
    // the index and adds a third to build time; without it `search --content` reads files from disk); once an index
    // has one, every run keeps it current until a --full rebuild without the flag.
    if (o.contentIndex || hasContentIndex(w.db)) await buildContentIndex(w.db, o.root);
    w.setMeta({ root: o.root, last_run: new Date().toISOString(), last_summary: JSON.stringify(o.summary) });
    w.commit();
    this.writer = null;
  }

  /** Leaves the previous index as it was. `keep`: the build stays for a resume. */
  abort(keep = false): void {
    this.writer?.abort(keep);
    this.writer = null;
  }
}
