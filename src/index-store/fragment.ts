/**
 * A batch's rows as a small SQLite database: the record tables of schema.ts, ids local to the fragment (from 1).
 * Workers build one per batch; the store copies it into the index with ATTACH and one INSERT … SELECT per table,
 * so the merging thread never holds a JavaScript object per row (docs/BENCHMARKS.md, "Scaling the merge").
 *
 * A fragment travels as the bytes of the database (`serialize()`); to be merged it is written to this process's
 * spool folder, in RAM (/dev/shm) when there is one.
 */
import { accessSync, constants, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { FileResult } from '../protocol/types.js';
import { columnNames, FILES, RECORD_SCHEMA, REFS, SYMBOLS, type RecordTable, type SqlValue } from './schema.js';

/** Rows per INSERT: one statement per 16 rows took 30 % less time than one per row (fewer calls into SQLite). */
const ROWS_PER_INSERT = 16;

const insertSql = (t: RecordTable<never>, rows: number) => {
  const names = columnNames(t);
  const row = `(${names.map(() => '?').join(', ')})`;
  return `INSERT INTO ${t.name} (${names.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`;
};

/** Buffers a table's rows and inserts them ROWS_PER_INSERT at a time (the rest one by one). */
function tableWriter(db: Database.Database, t: RecordTable<never>) {
  const many = db.prepare(insertSql(t, ROWS_PER_INSERT));
  const one = db.prepare(insertSql(t, 1));
  const width = columnNames(t).length;
  let values: SqlValue[] = [];
  let id = 0;
  return {
    /** Adds a row (`fileId` for the rows of a file); returns its id. */
    add(record: never, fileId?: number): number {
      values.push(++id);
      if (t.perFile) values.push(fileId!);
      for (const c of t.columns) values.push(c.value(record));
      if (values.length === width * ROWS_PER_INSERT) {
        many.run(values);
        values = [];
      }
      return id;
    },
    flush(): void {
      for (let i = 0; i < values.length; i += width) one.run(values.slice(i, i + width));
      values = [];
    },
  };
}

/** The fragment of these file results, as database bytes. Files, symbols and refs keep the order they come in. */
export function buildFragment(files: readonly FileResult[]): Buffer {
  const db = new Database(':memory:');
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('foreign_keys = OFF'); // files are inserted in groups too: a symbol may land before its file
    db.exec(RECORD_SCHEMA);
    const [fileRows, symbolRows, refRows] = [FILES, SYMBOLS, REFS].map((t) => tableWriter(db, t as RecordTable<never>));
    db.transaction(() => {
      for (const f of files) {
        const fileId = fileRows.add(f as never);
        for (const s of f.symbols) symbolRows.add(s as never, fileId);
        for (const r of f.refs) refRows.add(r as never, fileId);
      }
      for (const w of [fileRows, symbolRows, refRows]) w.flush();
    })();
    return db.serialize();
  } finally {
    db.close();
  }
}

// ------------------------------------------------------------------------------------------------------- spool

let spool: string | null = null;
let seq = 0;

/**
 * This process's folder for fragments waiting to be merged: in RAM when /dev/shm is writable, else the temp folder.
 * Pool threads share it (same pid). The main thread removes it at exit, and sweeps folders of processes that died.
 */
export function spoolDir(): string {
  if (spool) return spool;
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    base = '/dev/shm';
  } catch {
    // no tmpfs: the temp folder
  }
  const dir = join(base, `mcp-index-spool-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  if (isMainThread) {
    sweepDead(base);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return (spool = dir);
}

function sweepDead(base: string): void {
  for (const name of readdirSync(base)) {
    const m = /^mcp-index-spool-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(base, name), { recursive: true, force: true });
    }
  }
}

/** A new file name in the spool for a fragment of `batchId`. */
export function spoolPath(batchId: string): string {
  return join(spoolDir(), `${batchId.replace(/[^\w.-]/g, '_')}-${threadId}-${++seq}.db`);
}

/** Writes fragment bytes to the spool; returns the file the store merges (and then removes). */
export function spoolFragment(batchId: string, bytes: Uint8Array): string {
  const path = spoolPath(batchId);
  writeFileSync(path, bytes);
  return path;
}

/** Drops a fragment file that will not be merged (its batch was merged already, or the run ended). */
export function discardFragment(path: string): void {
  rmSync(path, { force: true });
}
