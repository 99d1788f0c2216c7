import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SkippedFile } from '../discover/discover.js';
import type { FileResult } from '../protocol/types.js';
import { buildFragment, discardFragment, spoolFragment, spoolPath } from './fragment.js';
import { UsageError } from '../errors.js';
import { isCorruption, openReadOnly } from './reader.js';
import { applyIndexes, applySchema, columnNames, FILES, RECORD_SCHEMA, REFS, SCHEMA_VERSION, SYMBOLS, type RecordTable } from './schema.js';

// 16 MiB of page cache: merging appends rows, so a larger cache bought no speed, only coordinator memory.
const CACHE = 'cache_size = -16384';

/** Deferred FTS rows are added in steps of this many symbols while the merge has nothing else to do. */
const FTS_STEP = 2000;

/** Fragments attached at once (SQLite attaches at most 10 databases). */
const GROUP_FRAGMENTS = 8;

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
  /** Modification times from discovery, recorded with each merged file (0 for others: re-checked next run). */
  mtimes?: ReadonlyMap<string, number>;
}

const tables = [FILES, SYMBOLS, REFS] as unknown as RecordTable<never>[];

/**
 * The write side of the store (store.ts is the handle the pipeline uses). Builds the index in `<out>.building` and
 * renames it over `<out>` only when the run completes, or (local incremental runs) patches `<out>` inside one
 * transaction that commits only then; either way readers and an interrupted run see the previous good index.
 *
 * Rows arrive as fragments (fragment.ts) and are copied natively, one transaction per batch (or per group of
 * batches that arrived together), with ids renumbered past the index's own. A path already in the index loses its old rows first, so applying the same rows twice
 * leaves the same index. Symbol search (FTS) rows are not part of that copy: they are added for every symbol past a
 * watermark (`fts_upto`), in steps while the merge is idle and the rest at commit (see `ftsStep`).
 */
export class IndexWriter {
  readonly db: Database.Database;
  readonly tmpPath: string;
  /** True when an interrupted build with the same key was picked up. */
  readonly resumed: boolean;
  /** Patching the index in one transaction rather than building `<out>.building`. */
  readonly inPlace: boolean;
  private closed = false;
  private readonly mtimes: ReadonlyMap<string, number>;
  /** Every symbol with an id up to this has its FTS row; those above it are still to be added. */
  private ftsUpto: number;
  /**
   * Patching: ATTACH is not allowed inside the patch's transaction, so fragments are gathered in this database (its
   * own connection, attached to the index as `spool` before the transaction began) and copied in at `finish()`.
   */
  private spool: { db: Database.Database; path: string; copy: Copier; clear: (fileId: number) => void } | null = null;
  private readonly copyRows: Copier;
  private finished = false;
  private readonly stmts;

  constructor(
    readonly finalPath: string,
    opts: WriterOptions,
  ) {
    mkdirSync(dirname(finalPath), { recursive: true });
    this.tmpPath = `${finalPath}.building`;
    this.mtimes = opts.mtimes ?? new Map();
    const patchable = opts.incremental && existsSync(finalPath) && isCompatible(finalPath, opts.extractorVersion);
    // A small change patches the index itself inside one transaction: nothing to copy, whatever the index's size,
    // and an interrupted run rolls back to the previous index. A resumable (cluster) run needs each batch durable on
    // its own, so it builds in a copy.
    this.inPlace = patchable && !!opts.patch && !opts.resumeKey;
    let resumed = false;
    if (opts.resumeKey && existsSync(this.tmpPath)) {
      resumed = readMeta(this.tmpPath, 'resume_key')[0] === opts.resumeKey;
    }
    this.resumed = resumed;
    if (this.inPlace) {
      this.db = new Database(finalPath);
      this.db.pragma('busy_timeout = 10000'); // a reader mid-query delays the commit, it does not fail it
      this.db.pragma(CACHE);
      applySchema(this.db);
      const path = spoolPath('patch');
      const spoolDb = new Database(path);
      spoolDb.pragma('journal_mode = OFF');
      spoolDb.pragma('synchronous = OFF');
      spoolDb.exec(RECORD_SCHEMA);
      const delSymbols = spoolDb.prepare('DELETE FROM symbols WHERE file_id = ?');
      const delRefs = spoolDb.prepare('DELETE FROM refs WHERE file_id = ?');
      this.spool = { db: spoolDb, path, copy: rowCopier(spoolDb), clear: (id) => (delSymbols.run(id), delRefs.run(id)) };
      this.db.prepare('ATTACH ? AS spool').run(path);
      // Batch transactions nest inside as savepoints. Not BEGIN IMMEDIATE, which would lock every attached database
      // (the spool too): a write to main takes the index's write lock now, the spool is only read at finish().
      this.db.exec('BEGIN');
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
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
      // A checkpoint (copy back, fsync) every 32 MiB of WAL rather than every 4: a page the merge rewrites in every
      // batch (a table's last leaf) is copied back once per checkpoint, and each fsync stalls the writer.
      if (opts.resumeKey) this.db.pragma('wal_autocheckpoint = 8192');
      this.db.pragma(CACHE);
      // A copied index keeps its secondary indexes; a fresh build gets them at commit (a resumed one has them if it
      // began as a copy). Until then a rare re-write of a file scans its table instead of using an index.
      applySchema(this.db, patchable && !resumed);
    }
    // The writer deletes a file's rows itself (clearFile); per-row foreign key checks would only slow the copies.
    this.db.pragma('foreign_keys = OFF');

    const db = this.db;
    this.copyRows = rowCopier(db);
    this.stmts = {
      fileId: db.prepare<[string], { id: number }>('SELECT id FROM files WHERE path = ?'),
      delFts: db.prepare('DELETE FROM symbols_fts WHERE rowid IN (SELECT id FROM symbols WHERE file_id = ? AND id <= ?)'),
      delSymbols: db.prepare('DELETE FROM symbols WHERE file_id = ?'),
      delRefs: db.prepare('DELETE FROM refs WHERE file_id = ?'),
      delFile: db.prepare('DELETE FROM files WHERE id = ?'),
      merged: db.prepare<[string], { batch_id: string }>('SELECT batch_id FROM run_batches WHERE batch_id = ?'),
      markMerged: db.prepare('INSERT OR IGNORE INTO run_batches (batch_id) VALUES (?)'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      ftsUpto: db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'fts_upto'"),
      maxSymbol: db.prepare<[], { n: number | null }>('SELECT max(id) AS n FROM symbols'),
      ftsEnd: db.prepare<[number, number], { n: number | null }>('SELECT max(id) AS n FROM (SELECT id FROM symbols WHERE id > ? ORDER BY id LIMIT ?)'),
      ftsAdd: db.prepare(`INSERT INTO symbols_fts (rowid, name, words, qualified, signature, doc)
        SELECT id, name, words, qualified, signature, doc FROM symbols WHERE id > ? AND id <= ? ORDER BY id`),
    };
    // A build from scratch has no FTS rows yet; an index written before the watermark existed has them all.
    const upto = this.stmts.ftsUpto.get();
    this.ftsUpto = upto ? Number(upto.value) : patchable && !resumed ? (this.stmts.maxSymbol.get()?.n ?? 0) : 0;
    this.setMeta({ schema_version: String(SCHEMA_VERSION), extractor_version: String(opts.extractorVersion), fts_upto: String(this.ftsUpto) });
    if (opts.resumeKey) this.setMeta({ resume_key: opts.resumeKey });
    if (!resumed) db.exec('DELETE FROM run_batches');
  }

  private clearFile(id: number): void {
    this.stmts.delFts.run(id, this.ftsUpto);
    this.stmts.delSymbols.run(id);
    this.stmts.delRefs.run(id);
  }

  private readonly clear = (id: number) => this.clearFile(id);

  /**
   * Merges one batch's fragments (files written by fragment.ts; removed once read) in one transaction. `batchId`
   * null: rows that belong to no batch (skipped files). Returns false when this batch was already merged (a
   * redelivery): nothing is written twice.
   */
  apply(batchId: string | null, fragments: readonly string[]): boolean {
    return this.applyMany([[batchId, fragments]])[0];
  }

  /**
   * Merges several batches, up to GROUP_FRAGMENTS fragments attached at once and copied in one transaction: a
   * writer with results waiting pays one commit for the group rather than one per batch. Returns, per batch,
   * whether it was merged now (false: merged before, a redelivery).
   */
  applyMany(batches: readonly (readonly [string | null, readonly string[]])[]): boolean[] {
    try {
      if (this.finished) throw new Error('the build is finished: no more rows');
      const seen = new Set<string>();
      const fresh = batches.map(([id]) => id === null || (!seen.has(id) && !this.stmts.merged.get(id) && !!seen.add(id)));
      const todo = batches.filter((_, i) => fresh[i]);
      if (this.spool) {
        // Patching: into the spool now (transactions of its own), into the index at finish().
        const spool = this.spool;
        for (const [id, fragments] of todo) {
          for (const f of fragments) this.attached(spool.db, [f], () => spool.copy(0, this.mtimes, spool.clear, 'frag0'));
          if (id !== null) this.stmts.markMerged.run(id);
        }
        return fresh;
      }
      let group: (typeof todo)[number][] = [];
      let size = 0;
      const flush = () => {
        if (!group.length) return;
        const parts = group;
        this.attached(this.db, parts.flatMap(([, fragments]) => fragments), () => {
          let slot = 0;
          for (const [id, fragments] of parts) {
            for (let i = 0; i < fragments.length; i++) this.copyRows(this.ftsUpto, this.mtimes, this.clear, `frag${slot++}`);
            if (id !== null) this.stmts.markMerged.run(id);
          }
        });
        group = [];
        size = 0;
      };
      for (const b of todo) {
        if (size + b[1].length > GROUP_FRAGMENTS) flush();
        group.push(b);
        size += b[1].length;
      }
      flush();
      return fresh;
    } finally {
      for (const [, fragments] of batches) for (const f of fragments) discardFragment(f);
    }
  }

  /** Runs `body` in one transaction with the fragments at `paths` attached as frag0, frag1, ... */
  private attached(db: Database.Database, paths: readonly string[], body: () => void): void {
    const attach = db.prepare('ATTACH ? AS ?');
    let n = 0;
    try {
      for (const p of paths) attach.run(p, `frag${n++}`);
      db.transaction(body)();
    } finally {
      while (n > 0) db.exec(`DETACH frag${--n}`);
    }
  }

  /** Batch ids already in this build (non-empty only when resuming). */
  mergedBatches(): Set<string> {
    return new Set(this.db.prepare<[], { batch_id: string }>('SELECT batch_id FROM run_batches').all().map((r) => r.batch_id));
  }

  /** Rows for files that no batch produced (skipped files, a file isolated from a failing batch). */
  applyFiles(files: readonly FileResult[]): void {
    if (files.length === 0) return;
    this.apply(null, [spoolFragment('files', buildFragment(files))]);
  }

  /** Files that never reached a worker (oversize, unreadable, ...) are recorded too: nothing is dropped silently. */
  applySkipped(skipped: readonly SkippedFile[]): void {
    this.applyFiles(skipped.map((sk) => ({ path: sk.path, hash: '', size: sk.size, language: sk.language, status: 'error', error: sk.error, symbols: [], refs: [], parseMs: 0 })));
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
   * instead of parsed. Extraction depends on content alone, so this equals a re-parse. The copies get new ids past
   * the FTS watermark, so their search rows are added with the others'.
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
      const { fileBase, symbolBase, refBase } = idBases(this.db, this.ftsUpto);
      const id = fileBase + 1;
      const [fileCols, symCols, refCols] = tables.map((t) => t.columns.map((c) => c.name));
      const rest = (cols: string[], skip: string[]) => cols.filter((c) => !skip.includes(c)).join(', ');
      this.db
        .prepare(`INSERT INTO files (id, path, mtime_ms, ${rest(fileCols, ['path', 'mtime_ms'])}) SELECT ?, ?, ?, ${rest(fileCols, ['path', 'mtime_ms'])} FROM files WHERE id = ?`)
        .run(id, toPath, mtimeMs, src.id);
      // Source order is id order: the copies keep it.
      this.db
        .prepare(`INSERT INTO symbols (id, file_id, ${symCols.join(', ')}) SELECT ? + row_number() OVER (ORDER BY id), ?, ${symCols.join(', ')} FROM symbols WHERE file_id = ? ORDER BY id`)
        .run(symbolBase, id, src.id);
      this.db
        .prepare(`INSERT INTO refs (id, file_id, ${refCols.join(', ')}) SELECT ? + row_number() OVER (ORDER BY id), ?, ${refCols.join(', ')} FROM refs WHERE file_id = ? ORDER BY id`)
        .run(refBase, id, src.id);
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

  /**
   * Adds the FTS rows of up to `maxSymbols` symbols past the watermark, in one transaction. Returns false when
   * there were none left. Called while the merge waits for results, and at the end for the rest.
   */
  ftsStep(maxSymbols = FTS_STEP): boolean {
    if (this.spool && !this.finished) return false; // a patch's rows are not in the index before finish()
    const end = this.stmts.ftsEnd.get(this.ftsUpto, Math.min(maxSymbols, Number.MAX_SAFE_INTEGER))?.n;
    if (end == null) return false;
    this.db.transaction(() => {
      this.stmts.ftsAdd.run(this.ftsUpto, end);
      this.stmts.setMeta.run('fts_upto', String(end));
    })();
    this.ftsUpto = end;
    return true;
  }

  /** No more rows: a patch's spooled rows go into the index, and every symbol gets its FTS row. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.spool) {
      this.db.transaction(() => this.copyRows(this.ftsUpto, null, this.clear, 'spool'))();
    }
    while (this.ftsStep(Number.MAX_SAFE_INTEGER));
  }

  /** Makes the build the index: checkpoint, fsync, atomic rename. */
  commit(): void {
    this.finish();
    applyIndexes(this.db);
    if (this.inPlace) {
      this.db.prepare("DELETE FROM meta WHERE key = 'resume_key'").run();
      this.db.exec('COMMIT');
      this.close();
      return;
    }
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.pragma('journal_mode = DELETE');
    this.db.prepare("DELETE FROM meta WHERE key = 'resume_key'").run();
    this.close();
    const fd = openSync(this.tmpPath, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmpPath, this.finalPath);
    removeSidecars(this.finalPath);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inPlace && this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
    if (this.spool) {
      this.spool.db.close();
      discardFragment(this.spool.path);
    }
  }

  /** Leaves the previous index untouched. `keep` preserves the build for a later resume. */
  abort(keep = false): void {
    this.close();
    if (!keep && !this.inPlace) removeDb(this.tmpPath);
  }
}

/** The next free ids: each table's largest, and for symbols never at or below the FTS watermark. */
function idBases(db: Database.Database, ftsUpto: number): { fileBase: number; symbolBase: number; refBase: number } {
  const max = (t: string) => db.prepare<[], { n: number | null }>(`SELECT max(id) AS n FROM main.${t}`).get()?.n ?? 0;
  return { fileBase: max('files'), symbolBase: Math.max(max('symbols'), ftsUpto), refBase: max('refs') };
}

/**
 * Copies the rows of the attached database `src` (a fragment, or a patch's spool) into `db`'s main tables, ids
 * renumbered past the existing ones, inside the caller's transaction. Files already present under the same path
 * lose their rows first (`clear`). With `mtimes`, each copied file gets the modification time discovery saw.
 * Statements are prepared once per connection and source; SQLite re-prepares them when another file is attached
 * under the same name.
 */
type Copier = (ftsUpto: number, mtimes: ReadonlyMap<string, number> | null, clear: (fileId: number) => void, src: string) => void;

/** One copier per connection; the statements for each attached name are prepared once. */
function rowCopier(db: Database.Database): Copier {
  const bySource = new Map<string, CopyStatements>();
  return (ftsUpto, mtimes, clear, src) => {
    let s = bySource.get(src);
    if (!s) bySource.set(src, (s = copyStatements(db, src)));
    for (const { id } of s.clashing.all()) {
      clear(id);
      s.delFile.run(id);
    }
    const max = s.max.get()!;
    const fileBase = max.f ?? 0;
    const bases = [[fileBase], [Math.max(max.s ?? 0, ftsUpto), fileBase], [max.r ?? 0, fileBase]];
    s.copy.forEach((stmt, i) => stmt.run(...bases[i]));
    if (mtimes?.size) {
      for (const f of s.paths.all()) {
        const m = mtimes.get(f.path);
        if (m) s.setMtime.run(m, f.id + fileBase);
      }
    }
  };
}

type CopyStatements = ReturnType<typeof copyStatements>;

function copyStatements(db: Database.Database, src: string) {
  return {
    clashing: db.prepare<[], { id: number }>(`SELECT id FROM main.files WHERE path IN (SELECT path FROM ${src}.files)`),
    delFile: db.prepare<[number]>('DELETE FROM main.files WHERE id = ?'),
    max: db.prepare<[], { f: number | null; s: number | null; r: number | null }>(
      'SELECT (SELECT max(id) FROM main.files) AS f, (SELECT max(id) FROM main.symbols) AS s, (SELECT max(id) FROM main.refs) AS r',
    ),
    copy: tables.map((t) => {
      const names = columnNames(t);
      const values = names.map((c) => (c === 'id' || c === 'file_id' ? `${c} + ?` : c));
      return db.prepare<number[]>(`INSERT INTO main.${t.name} (${names.join(', ')}) SELECT ${values.join(', ')} FROM ${src}.${t.name} ORDER BY id`);
    }),
    paths: db.prepare<[], { id: number; path: string }>(`SELECT id, path FROM ${src}.files`),
    setMtime: db.prepare<[number, number]>('UPDATE main.files SET mtime_ms = ? WHERE id = ?'),
  };
}

function removeSidecars(path: string): void {
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

function removeDb(path: string): void {
  rmSync(path, { force: true });
  removeSidecars(path);
}

/** Removes the unfinished build of `out` (after a hard stop, when it is not kept for a resume). */
export function removeBuild(out: string): void {
  removeDb(`${out}.building`);
}

/**
 * Meta values, one per key, in one open: null when the file has no such key, or is no index of ours (not SQLite,
 * damaged, no meta table): such a file is rebuilt. A file that cannot be read (permissions, a lock held past the busy
 * timeout, a folder) throws: rebuilding would hide the problem, and the rename at the end would fail on it anyway.
 */
function readMeta(path: string, ...keys: string[]): (string | null)[] {
  let db: Database.Database | null = null;
  try {
    db = openReadOnly(path);
    const get = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    return keys.map((k) => get.get(k)?.value ?? null);
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? '');
    if (code === 'SQLITE_NOTADB' || isCorruption(err) || /no such table/.test((err as Error).message)) return keys.map(() => null);
    throw new UsageError(`cannot read the index ${path}: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
}

/** An index from another schema or extractor version is rebuilt from scratch rather than patched. */
export function isCompatible(path: string, extractorVersion: number): boolean {
  const [schema, extractor] = readMeta(path, 'schema_version', 'extractor_version');
  return schema === String(SCHEMA_VERSION) && extractor === String(extractorVersion);
}
