import type Database from 'better-sqlite3';
import type { FileErrorCode } from '../protocol/types.js';

/** What an index holds, counted from its tables. */
export interface IndexStats {
  files: number;
  symbols: number;
  refs: number;
  bytes: number;
  byLanguage: Record<string, number>;
  symbolsByKind: Record<string, number>;
  errorsByCode: Partial<Record<FileErrorCode, number>>;
  /** Files with status "error" (no symbols) plus "partial" (syntax errors, indexed what parsed). */
  fileErrors: number;
}

/**
 * Totals of an index, counted from its tables so they describe the index, not one run. Each run that writes records
 * them in meta; a run that changes nothing reports those recorded totals instead of counting again (store.ts).
 */
export function indexStats(db: Database.Database): IndexStats {
  const one = <T>(sql: string) => db.prepare<[], T>(sql).get() as T;
  const group = (sql: string) =>
    Object.fromEntries(db.prepare<[], { k: string; n: number }>(sql).all().map((r) => [r.k, r.n]));
  const files = one<{ n: number; bytes: number | null; errors: number }>(
    "SELECT count(*) AS n, sum(size) AS bytes, sum(status != 'ok') AS errors FROM files",
  );
  return {
    files: files.n,
    symbols: one<{ n: number }>('SELECT count(*) AS n FROM symbols').n,
    refs: one<{ n: number }>('SELECT count(*) AS n FROM refs').n,
    bytes: files.bytes ?? 0,
    byLanguage: group('SELECT language AS k, count(*) AS n FROM files GROUP BY language ORDER BY n DESC, k'),
    symbolsByKind: group('SELECT kind AS k, count(*) AS n FROM symbols GROUP BY kind ORDER BY n DESC, k'),
    errorsByCode: group('SELECT error_code AS k, count(*) AS n FROM files WHERE error_code IS NOT NULL GROUP BY error_code ORDER BY n DESC, k'),
    fileErrors: files.errors ?? 0,
  };
}
