import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { PriorFile } from '../plan/hash.js';
import { IndexCorruptError, IndexNotFoundError } from '../errors.js';
import { SCHEMA_VERSION } from './schema.js';


/** SQLite's word for a damaged file (SQLITE_CORRUPT and its extended codes). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_CORRUPT');
}

/** PRAGMA quick_check: null when the file is sound, else its first complaint. Run only after an error: it reads every page. */
export function integrityProblem(path: string): string | null {
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check(3)') as { quick_check: string }[];
    const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
    return problems.length ? problems.join('; ').replace(/\*\*\* in database main \*\*\*/g, '').replace(/\s+/g, ' ').trim() : null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    db?.close();
  }
}

/**
 * Records that an index was found damaged (`<index>.damaged`, holding the problem) so that the next index run
 * rebuilds it even when no file changed, and returns the one line that says so. Best effort: a read-only folder
 * only loses the marker.
 */
export function corruptIndexError(path: string, problem: string): IndexCorruptError {
  try {
    writeFileSync(damagedMarker(path), problem + '\n');
  } catch {
    // the message still says what to do
  }
  return new IndexCorruptError(`the index ${path} is damaged (${problem}): the next \`mcp-index <repo>\` run (or the reindex tool) rebuilds it`);
}

export const damagedMarker = (path: string) => `${path}.damaged`;

/** The problem recorded by corruptIndexError, or null. */
export function damagedProblem(path: string): string | null {
  try {
    return readFileSync(damagedMarker(path), 'utf8').trim() || 'damaged';
  } catch {
    return null;
  }
}

/**
 * A read-only connection. A patch killed before its commit leaves a hot journal, which only a writable connection
 * may roll back (a read-only one fails with SQLITE_READONLY_ROLLBACK): that is done first, once.
 */
export function openReadOnly(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_READONLY_ROLLBACK') throw err;
  }
  let rw: Database.Database;
  try {
    rw = new Database(path, { fileMustExist: true });
  } catch (err) {
    throw new IndexNotFoundError(`${path} holds an unfinished change that only a writable open can undo: ${(err as Error).message}`);
  }
  try {
    rw.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get(); // the first read rolls the journal back
  } finally {
    rw.close();
  }
  return new Database(path, { readonly: true, fileMustExist: true });
}

/** Opens a finished index read-only. Missing or foreign files are known errors, not crashes. */
export function openIndex(path: string): Database.Database {
  if (!existsSync(path)) throw new IndexNotFoundError(`no index at ${path}: run \`mcp-index <repo>\` first`);
  let db: Database.Database | null = null;
  let version: string | undefined;
  try {
    db = openReadOnly(path);
    version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
  } catch (err) {
    db?.close();
    if (err instanceof IndexNotFoundError) throw err;
    if (isCorruption(err)) throw corruptIndexError(path, integrityProblem(path) ?? (err as Error).message);
    if (!String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_')) throw err; // not SQLite's answer (the driver failed to load)
    throw new IndexNotFoundError(`${path} is not an mcp-index index`);
  }
  if (version !== String(SCHEMA_VERSION)) {
    db.close();
    throw new IndexNotFoundError(`${path} has schema version ${version ?? '?'} (this build reads ${SCHEMA_VERSION}): re-run with --full`);
  }
  return db;
}

export function readMetaAll(db: Database.Database): Record<string, string> {
  const rows = db.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta').all();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export type PriorRow = PriorFile & { status: string; errorCode: string | null };

/** Every file of the previous index (hash '' marks files that were never read: oversize, unreadable...). */
export function priorFiles(db: Database.Database): Map<string, PriorRow> {
  const rows = db
    .prepare<[], { path: string; size: number; mtime_ms: number; hash: string; status: string; error_code: string | null }>(
      'SELECT path, size, mtime_ms, hash, status, error_code FROM files',
    )
    .all();
  return new Map(rows.map((r) => [r.path, { size: r.size, mtimeMs: r.mtime_ms, hash: r.hash, status: r.status, errorCode: r.error_code }]));
}
