/**
 * One build of the index, as the store handle drives it: the writer plus the store-level steps (totals, content
 * index, meta at commit). Plain synchronous calls (commit aside), so that it runs the same on the caller's thread
 * or on a thread of its own (writer-thread.ts).
 */
import { readFileSync } from 'node:fs';
import type { SkippedFile } from '../discover/discover.js';
import type { FileResult } from '../protocol/types.js';
import { buildContentIndex, hasContentIndex } from './content.js';
import { indexStats, type IndexStats } from './stats.js';
import { IndexWriter, type WriterOptions } from './writer.js';

export interface CommitOptions {
  root: string;
  /** What the run recorded: a later run that changes nothing reports these totals without counting. */
  summary: unknown;
  /** Build the content (text) index; an index that has one keeps it current whatever this says. */
  contentIndex: boolean;
}

export class BuildSession {
  private readonly w: IndexWriter;

  constructor(path: string, opts: WriterOptions) {
    this.w = new IndexWriter(path, opts);
  }

  /** What the caller needs to know about the build once it is open. */
  info(): { resumed: boolean; inPlace: boolean } {
    return { resumed: this.w.resumed, inPlace: this.w.inPlace };
  }

  mergedBatches(): string[] {
    return [...this.w.mergedBatches()];
  }

  /** Batches as [batch id, fragment files]; whether each was merged now (false: a redelivery). */
  applyMany(batches: readonly (readonly [string, readonly string[]])[]): boolean[] {
    return this.w.applyMany(batches);
  }

  applySkipped(skipped: readonly SkippedFile[]): void {
    this.w.applySkipped(skipped);
  }

  applyFiles(files: readonly FileResult[]): void {
    this.w.applyFiles(files);
  }

  touch(entries: readonly [string, number][]): void {
    this.w.touch(entries);
  }

  copyFile(fromPath: string, toPath: string, mtimeMs: number): boolean {
    return this.w.copyFile(fromPath, toPath, mtimeMs);
  }

  removeAllExcept(present: ReadonlySet<string>, only: ReadonlySet<string> | null): number {
    return this.w.removeAllExcept(present, only);
  }

  /** One step of the deferred work (search rows); false when none is left. */
  idleStep(): boolean {
    return this.w.ftsStep();
  }

  /** Totals of the index as it will be committed (a patch's spooled rows are copied in first). */
  stats(): IndexStats {
    if (this.w.inPlace) this.w.finish();
    return indexStats(this.w.db);
  }

  /** The deferred work, the content index when asked or present, the run's meta, then the atomic commit. */
  async commit(o: CommitOptions): Promise<void> {
    this.w.finish();
    // Content search: a trigram index of the text, kept in step with the files table. Opt-in (it roughly doubles
    // the index and adds a third to build time; without it `search --content` reads files from disk); once an index
    // has one, every run keeps it current until a --full rebuild without the flag.
    if (o.contentIndex || hasContentIndex(this.w.db)) await buildContentIndex(this.w.db, o.root);
    this.w.setMeta({ root: o.root, last_run: new Date().toISOString(), last_summary: JSON.stringify(o.summary) });
    this.w.commit();
  }

  abort(keep: boolean): void {
    this.w.abort(keep);
  }

  /** CPU time of the thread the session runs on, in ms (Linux; null elsewhere): the bench tells work from waiting. */
  threadCpuMs(): number | null {
    try {
      const stat = readFileSync('/proc/thread-self/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 10 ms
    } catch {
      return null;
    }
  }
}
