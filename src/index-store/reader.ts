import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { PriorFile } from '../plan/hash.js';
import { SCHEMA_VERSION } from './schema.js';

export class IndexNotFoundError extends Error {}

/** Opens a finished index read-only. Missing or foreign files are known errors, not crashes. */
export function openIndex(path: string): Database.Database {
  if (!existsSync(path)) throw new IndexNotFoundError(`no index at ${path}: run \`mcp-index <repo>\` first`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let version: string | undefined;
  try {
    version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
  } catch {
    db.close();
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

/** size/mtime/hash of every successfully read file, for the incremental fast path. */
export function priorFiles(db: Database.Database): Map<string, PriorFile & { status: string }> {
  const rows = db
    .prepare<[], { path: string; size: number; mtime_ms: number; hash: string; status: string }>(
      "SELECT path, size, mtime_ms, hash, status FROM files WHERE hash != ''",
    )
    .all();
  return new Map(rows.map((r) => [r.path, { size: r.size, mtimeMs: r.mtime_ms, hash: r.hash, status: r.status }]));
}
