import { statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { hasContentIndex } from '../index-store/content.js';
import { indexStats } from '../index-store/stats.js';
import type { RunSummary } from '../pipeline/events.js';

export interface StatusOptions {
  /** How many files with errors to list (default 10). */
  errorsLimit?: number;
  /** How many changed/missing paths to list as examples (default 10). */
  staleLimit?: number;
}

export interface IndexStatus {
  index: string;
  root: string | null;
  indexBytes: number;
  schemaVersion: string | null;
  extractorVersion: string | null;
  lastRun: string | null;
  lastRunSummary: Partial<Pick<RunSummary, 'run'>> | null;
  files: number;
  symbols: number;
  refs: number;
  sourceBytes: number;
  languages: Record<string, number>;
  symbolsByKind: Record<string, number>;
  errors: {
    /** Files with status error or partial. */
    files: number;
    byCode: Record<string, number>;
    list: { path: string; status: string; code: string | null; message: string | null }[];
    more: number;
  };
  /** Indexed files compared with the disk by size and mtime (null when the repository root is unknown). */
  stale: {
    checked: number;
    changed: number;
    missing: number;
    changedPaths: string[];
    missingPaths: string[];
  } | null;
  content: { files: number; lines: number } | null;
}

/** What an index holds and how current it is. Cheap: SQL aggregates plus one stat per indexed file. */
export function indexStatus(db: Database.Database, indexPath: string, meta: Record<string, string>, root: string | null, opts: StatusOptions = {}): IndexStatus {
  const errorsLimit = opts.errorsLimit ?? 10;
  const staleLimit = opts.staleLimit ?? 10;
  const s = indexStats(db);
  const errorRows = db
    .prepare<[number], { path: string; status: string; code: string | null; message: string | null }>(
      "SELECT path, status, error_code AS code, error AS message FROM files WHERE status != 'ok' ORDER BY path LIMIT ?",
    )
    .all(errorsLimit);

  let stale: IndexStatus['stale'] = null;
  if (root) {
    stale = { checked: 0, changed: 0, missing: 0, changedPaths: [], missingPaths: [] };
    const rows = db.prepare<[], { path: string; size: number; mtime_ms: number }>('SELECT path, size, mtime_ms FROM files ORDER BY path').all();
    for (const r of rows) {
      stale.checked++;
      let st;
      try {
        st = statSync(join(root, r.path));
      } catch {
        stale.missing++;
        if (stale.missingPaths.length < staleLimit) stale.missingPaths.push(r.path);
        continue;
      }
      // mtime 0 marks files recorded without being read (skipped, errors): only their presence is checked.
      if (r.mtime_ms !== 0 && (st.size !== r.size || Math.trunc(st.mtimeMs) !== r.mtime_ms)) {
        stale.changed++;
        if (stale.changedPaths.length < staleLimit) stale.changedPaths.push(r.path);
      }
    }
  }

  let content: IndexStatus['content'] = null;
  if (hasContentIndex(db)) {
    content = db.prepare<[], { files: number; lines: number }>('SELECT count(*) AS files, coalesce(sum(lines), 0) AS lines FROM content_files').get()!;
  }

  let lastRunSummary: IndexStatus['lastRunSummary'] = null;
  try {
    lastRunSummary = meta.last_summary ? JSON.parse(meta.last_summary) : null;
  } catch {
    lastRunSummary = null;
  }
  let indexBytes = 0;
  try {
    indexBytes = statSync(indexPath).size;
  } catch {
    // replaced or removed meanwhile
  }

  return {
    index: indexPath,
    root,
    indexBytes,
    schemaVersion: meta.schema_version ?? null,
    extractorVersion: meta.extractor_version ?? null,
    lastRun: meta.last_run ?? null,
    lastRunSummary: lastRunSummary && typeof lastRunSummary === 'object' ? { run: lastRunSummary.run } : null,
    files: s.files,
    symbols: s.symbols,
    refs: s.refs,
    sourceBytes: s.bytes,
    languages: s.byLanguage,
    symbolsByKind: s.symbolsByKind,
    errors: {
      files: s.fileErrors,
      byCode: s.errorsByCode as Record<string, number>,
      list: errorRows,
      more: Math.max(0, s.fileErrors - errorRows.length),
    },
    stale,
    content,
  };
}
