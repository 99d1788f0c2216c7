import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SkippedFile } from '../discover/discover.js';
import type { FileResult, JobResult } from '../protocol/types.js';
import { openReadOnly } from './reader.js';
import { applyIndexes, applySchema, columnList, REF_COLUMNS, refValues, SCHEMA_VERSION, SYMBOL_COLUMNS, symbolValues } from './schema.js';

// 16 MiB of page cache: merging appends rows, so a larger cache bought no speed, only coordinator memory.
const CACHE = 'cache_size = -16384';

/** Splits identifiers into lower-case words for FTS: getHTTPResponse_code -> "get http response code". */
export function identifierWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_\-$:.]+/g, ' ')
    .trim()
    .toLowerCase();
}

export interface WriterOptions {
  /** Start from the existing index (incremental run) instead of an empty one. */
  incremental: boolean;
  extractorVersion: number;
  /** Resume a build left by an interrupted run with this key (cluster coordinator restart). */
  resumeKey?: string;
  /**
   * Patch the existing index inside one transaction instead of building a copy. For small changes only: a patch
   * bigger than SQLite's page cache would lock readers out of the index until it commits.
   */
  patch?: boolean;
}

/**
 * Builds the index in `<out>.building` and renames it over `<out>` only when the run completes, or (local incremental
 * runs) patches `<out>` inside one transaction that commits only then; either way readers and an interrupted run see
 * the previous good index. Each batch result is one transaction (a savepoint when patching) and replaces its files'
 * rows, so applying the same result twice leaves the same rows.
 */
export class IndexWriter {
  readonly db: Database.Database;
  readonly tmpPath: string;
  /** True when an interrupted build with the same key was picked up. */
  readonly resumed: boolean;
  /** Patching the index in one transaction rather than building `<out>.building`. */
  readonly inPlace: boolean;
  private closed = false;
  private readonly stmts;

  constructor(
    readonly finalPath: string,
    opts: WriterOptions,
  ) {
    mkdirSync(dirname(finalPath), { recursive: true });
    this.tmpPath = `${finalPath}.building`;
    const patchable = opts.incremental && existsSync(finalPath) && isCompatible(finalPath, opts.extractorVersion);
    // A small change patches the index itself inside one transaction: nothing to copy, whatever the index's size,
    // and an interrupted run rolls back to the previous index. A resumable (cluster) run needs each batch durable on
    // its own, so it builds in a copy.
    this.inPlace = patchable && !!opts.patch && !opts.resumeKey;
    let resumed = false;
    if (opts.resumeKey && existsSync(this.tmpPath)) {
      resumed = readMeta(this.tmpPath, 'resume_key') === opts.resumeKey;
    }
    this.resumed = resumed;
    if (this.inPlace) {
      this.db = new Database(finalPath);
      this.db.pragma('busy_timeout = 10000'); // a reader mid-query delays the commit, it does not fail it
      this.db.pragma(CACHE);
      applySchema(this.db);
      this.db.exec('BEGIN IMMEDIATE'); // batch transactions nest inside as savepoints
    } else {
      if (!resumed) {
        removeDb(this.tmpPath);
        if (patchable) copyFileSync(finalPath, this.tmpPath);
      }
      this.db = new Database(this.tmpPath);
      // The build is private until commit() fsyncs and renames it, so only a resumable build needs each batch durable
      // (WAL). Any other keeps its rollback journal in memory: rows go straight to the file, with no WAL to copy back
      // at commit, and a failed batch still rolls back.
      this.db.pragma(opts.resumeKey ? 'journal_mode = WAL' : 'journal_mode = MEMORY');
      this.db.pragma(opts.resumeKey ? 'synchronous = NORMAL' : 'synchronous = OFF');
      this.db.pragma(CACHE);
      // A copied index keeps its secondary indexes; a fresh build gets them at commit (a resumed one has them if it
      // began as a copy). Until then a rare re-write of a file scans its table instead of using an index.
      applySchema(this.db, patchable && !resumed);
    }

    const db = this.db;
    this.stmts = {
      fileId: db.prepare<[string], { id: number }>('SELECT id FROM files WHERE path = ?'),
      delFts: db.prepare('DELETE FROM symbols_fts WHERE rowid IN (SELECT id FROM symbols WHERE file_id = ?)'),
      delSymbols: db.prepare('DELETE FROM symbols WHERE file_id = ?'),
      delRefs: db.prepare('DELETE FROM refs WHERE file_id = ?'),
      delFile: db.prepare('DELETE FROM files WHERE id = ?'),
      upsertFile: db.prepare<unknown[], { id: number }>(`
        INSERT INTO files (path, language, size, mtime_ms, hash, status, error_code, error, symbol_count, ref_count)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(path) DO UPDATE SET language = excluded.language, size = excluded.size,
          mtime_ms = excluded.mtime_ms, hash = excluded.hash, status = excluded.status,
          error_code = excluded.error_code, error = excluded.error, symbol_count = excluded.symbol_count,
          ref_count = excluded.ref_count
        RETURNING id`),
      insSymbol: db.prepare(`INSERT INTO symbols (${columnList(SYMBOL_COLUMNS)}) VALUES (${SYMBOL_COLUMNS.map(() => '?').join(', ')})`),
      insFts: db.prepare('INSERT INTO symbols_fts (rowid, name, words, qualified, signature, doc) VALUES (?, ?, ?, ?, ?, ?)'),
      insRef: db.prepare(`INSERT INTO refs (${columnList(REF_COLUMNS)}) VALUES (${REF_COLUMNS.map(() => '?').join(', ')})`),
      merged: db.prepare<[string], { batch_id: string }>('SELECT batch_id FROM run_batches WHERE batch_id = ?'),
      markMerged: db.prepare('INSERT OR IGNORE INTO run_batches (batch_id) VALUES (?)'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
    this.setMeta({ schema_version: String(SCHEMA_VERSION), extractor_version: String(opts.extractorVersion) });
    if (opts.resumeKey) this.setMeta({ resume_key: opts.resumeKey });
    if (!resumed) db.exec('DELETE FROM run_batches');
  }

  private clearFile(id: number): void {
    this.stmts.delFts.run(id);
    this.stmts.delSymbols.run(id);
    this.stmts.delRefs.run(id);
  }

  private writeFile(f: FileResult, mtimeMs: number): void {
    const s = this.stmts;
    const existing = s.fileId.get(f.path);
    if (existing) this.clearFile(existing.id);
    const { id } = s.upsertFile.get(
      f.path,
      f.language,
      f.size,
      mtimeMs,
      f.hash,
      f.status,
      f.error?.code ?? null,
      f.error?.message ?? null,
      f.symbols.length,
      f.refs.length,
    )!;
    for (const sym of f.symbols) {
      const info = s.insSymbol.run(symbolValues(id, sym));
      s.insFts.run(info.lastInsertRowid, sym.name, identifierWords(sym.name), sym.qualified, sym.signature, sym.doc);
    }
    for (const r of f.refs) s.insRef.run(refValues(id, r));
  }

  /**
   * One transaction per batch result; `mtimes` carries what discovery saw (0 forces a re-check next run).
   * Returns false when this batch was already merged (a redelivery): nothing is written twice.
   */
  readonly applyResult = (res: JobResult, mtimes: ReadonlyMap<string, number>): boolean =>
    this.db.transaction(() => {
      if (this.stmts.merged.get(res.batchId)) return false;
      for (const f of res.files) this.writeFile(f, mtimes.get(f.path) ?? 0);
      this.stmts.markMerged.run(res.batchId);
      return true;
    })();

  /** Batch ids already in this build (non-empty only when resuming). */
  mergedBatches(): Set<string> {
    return new Set(this.db.prepare<[], { batch_id: string }>('SELECT batch_id FROM run_batches').all().map((r) => r.batch_id));
  }

  /** Files that never reached a worker (oversize, unreadable, ...) are recorded too: nothing is dropped silently. */
  applySkipped(skipped: readonly SkippedFile[]): void {
    this.db.transaction(() => {
      for (const sk of skipped) {
        this.writeFile(
          { path: sk.path, hash: '', size: sk.size, language: sk.language, status: 'error', error: sk.error, symbols: [], refs: [], parseMs: 0 },
          0,
        );
      }
    })();
  }

  /**
   * Removes files that are gone or newly excluded. With `only` (a partial run over named files), files outside
   * `only` are not this run's business and stay. Returns how many were removed.
   */
  removeAllExcept(present: ReadonlySet<string>, only: ReadonlySet<string> | null = null): number {
    const rows = this.db.prepare<[], { id: number; path: string }>('SELECT id, path FROM files').all();
    let removed = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        if (present.has(r.path) || (only && !only.has(r.path))) continue;
        this.clearFile(r.id);
        this.stmts.delFile.run(r.id);
        removed++;
      }
    })();
    return removed;
  }

  /**
   * A renamed or copied file: its content (hash) is already indexed under another path, so its rows are copied
   * instead of parsed. Extraction depends on content alone, so this equals a re-parse.
   */
  copyFile(fromPath: string, toPath: string, mtimeMs: number): boolean {
    return this.db.transaction(() => {
      const src = this.stmts.fileId.get(fromPath);
      if (!src) return false;
      const existing = this.stmts.fileId.get(toPath);
      if (existing) {
        this.clearFile(existing.id);
        this.stmts.delFile.run(existing.id);
      }
      const { id } = this.db
        .prepare<[string, number, number], { id: number }>(
          `INSERT INTO files (path, language, size, mtime_ms, hash, status, error_code, error, symbol_count, ref_count)
           SELECT ?, language, size, ?, hash, status, error_code, error, symbol_count, ref_count FROM files WHERE id = ?
           RETURNING id`,
        )
        .get(toPath, mtimeMs, src.id)!;
      const rows = this.db
        .prepare<[number], { id: number; name: string; qualified: string; signature: string; doc: string | null }>(
          `SELECT id, name, qualified, signature, doc FROM symbols WHERE file_id = ? ORDER BY id`,
        )
        .all(src.id);
      const copySym = this.db.prepare<[number, number], { id: number }>(
        `INSERT INTO symbols (${columnList(SYMBOL_COLUMNS)}) SELECT ?, ${columnList(SYMBOL_COLUMNS, false)} FROM symbols WHERE id = ? RETURNING id`,
      );
      for (const r of rows) {
        const { id: newId } = copySym.get(id, r.id)!;
        this.stmts.insFts.run(newId, r.name, identifierWords(r.name), r.qualified, r.signature, r.doc);
      }
      this.db
        .prepare(`INSERT INTO refs (${columnList(REF_COLUMNS)}) SELECT ?, ${columnList(REF_COLUMNS, false)} FROM refs WHERE file_id = ? ORDER BY id`)
        .run(id, src.id);
      return true;
    })();
  }

  /** Records new mtimes for files whose content is unchanged, so the next run's fast path matches them. */
  touch(entries: readonly [string, number][]): void {
    const stmt = this.db.prepare('UPDATE files SET mtime_ms = ? WHERE path = ? AND mtime_ms != ?');
    this.db.transaction(() => {
      for (const [path, mtime] of entries) stmt.run(mtime, path, mtime);
    })();
  }

  setMeta(entries: Record<string, string>): void {
    for (const [k, v] of Object.entries(entries)) this.stmts.setMeta.run(k, v);
  }

  /** Makes the build the index: checkpoint, fsync, atomic rename. */
  commit(): void {
    applyIndexes(this.db);
    if (this.inPlace) {
      this.db.prepare("DELETE FROM meta WHERE key = 'resume_key'").run();
      this.db.exec('COMMIT');
      this.db.close();
      this.closed = true;
      return;
    }
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.pragma('journal_mode = DELETE');
    this.db.prepare("DELETE FROM meta WHERE key = 'resume_key'").run();
    this.db.close();
    this.closed = true;
    const fd = openSync(this.tmpPath, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmpPath, this.finalPath);
    removeSidecars(this.finalPath);
  }

  /** Leaves the previous index untouched. `keep` preserves the build for a later resume. */
  abort(keep = false): void {
    if (!this.closed) {
      if (this.inPlace && this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
      this.closed = true;
    }
    if (!keep && !this.inPlace) removeDb(this.tmpPath);
  }
}

function removeSidecars(path: string): void {
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

function removeDb(path: string): void {
  rmSync(path, { force: true });
  removeSidecars(path);
}

function readMeta(path: string, key: string): string | null {
  try {
    const db = openReadOnly(path);
    try {
      const row = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key);
      return row?.value ?? null;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** An index from another schema or extractor version is rebuilt from scratch rather than patched. */
export function isCompatible(path: string, extractorVersion: number): boolean {
  return readMeta(path, 'schema_version') === String(SCHEMA_VERSION) && readMeta(path, 'extractor_version') === String(extractorVersion);
}
