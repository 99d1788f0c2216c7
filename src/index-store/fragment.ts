/**
 * A batch's rows as a small SQLite database: the record tables of schema.ts, ids local to the fragment (from 1).
 * Workers build one per batch; the store copies it into the index with ATTACH and one INSERT … SELECT per table,
 * so the merging thread never holds a JavaScript object per row (docs/BENCHMARKS.md, "Scaling the merge").
 *
 * A fragment travels as the bytes of the database (`serialize()`); to be merged it is written to this process's
 * spool folder, in RAM (/dev/shm) when there is one.
 */
import { accessSync, constants, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { FileResult } from '../protocol/types.js';
import { columnNames, FILES, RECORD_SCHEMA, REFS, SYMBOLS, type RecordTable, type SqlValue } from './schema.js';

const insertSql = (t: RecordTable<never>) => {
  const names = columnNames(t);
  return `INSERT INTO ${t.name} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
};

/** The fragment of these file results, as database bytes. Files, symbols and refs keep the order they come in. */
export function buildFragment(files: readonly FileResult[]): Buffer {
  const db = new Database(':memory:');
  try {
    db.pragma('journal_mode = OFF');
    db.exec(RECORD_SCHEMA);
    const insFile = db.prepare(insertSql(FILES as RecordTable<never>));
    const insSymbol = db.prepare(insertSql(SYMBOLS as RecordTable<never>));
    const insRef = db.prepare(insertSql(REFS as RecordTable<never>));
    // One array per row, reused: the binding reads it as the statement's parameters.
    const fileRow: SqlValue[] = new Array(1 + FILES.columns.length);
    const symRow: SqlValue[] = new Array(2 + SYMBOLS.columns.length);
    const refRow: SqlValue[] = new Array(2 + REFS.columns.length);
    let fileId = 0;
    let symId = 0;
    let refId = 0;
    db.transaction(() => {
      for (const f of files) {
        fileRow[0] = ++fileId;
        for (let i = 0; i < FILES.columns.length; i++) fileRow[1 + i] = FILES.columns[i].value(f);
        insFile.run(fileRow);
        symRow[1] = refRow[1] = fileId;
        for (const s of f.symbols) {
          symRow[0] = ++symId;
          for (let i = 0; i < SYMBOLS.columns.length; i++) symRow[2 + i] = SYMBOLS.columns[i].value(s);
          insSymbol.run(symRow);
        }
        for (const r of f.refs) {
          refRow[0] = ++refId;
          for (let i = 0; i < REFS.columns.length; i++) refRow[2 + i] = REFS.columns[i].value(r);
          insRef.run(refRow);
        }
      }
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

/** The same, on libuv's thread pool: a coordinator's main thread only merges. */
export async function spoolFragmentAsync(batchId: string, bytes: Uint8Array): Promise<string> {
  const path = spoolPath(batchId);
  await writeFile(path, bytes);
  return path;
}

/** Drops a fragment file that will not be merged (its batch was merged already, or the run ended). */
export function discardFragment(path: string): void {
  rmSync(path, { force: true });
}
