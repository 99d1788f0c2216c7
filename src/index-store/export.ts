import type Database from 'better-sqlite3';
import { parseFlags, REFS, SYMBOLS, type RecordTable } from './schema.js';

interface FileRow {
  id: number;
  path: string;
  language: string;
  size: number;
  hash: string;
  status: string;
  error_code: string | null;
  error: string | null;
}

/**
 * A deterministic dump: files by path, then each file's symbols and references in source order, with ids derived
 * from the path and position (never rowids). Two indexes of the same tree export byte-equal, whatever the thread
 * count, transport or order in which batches were merged.
 */
/** A table's record columns, less those derived for the store's own use (search words). */
const dumped = (t: RecordTable<never>) => t.columns.map((c) => c.name).filter((c) => c !== 'words').join(', ');

export function* exportJsonl(db: Database.Database): Generator<string> {
  const files = db.prepare<[], FileRow>('SELECT id, path, language, size, hash, status, error_code, error FROM files ORDER BY path').all();
  const symbols = db.prepare<[number], Record<string, unknown>>(`
    SELECT ${dumped(SYMBOLS as RecordTable<never>)} FROM symbols WHERE file_id = ?
    ORDER BY start_line, start_col, end_line, end_col, name_line, name_col, kind, name, qualified`);
  const refs = db.prepare<[number], Record<string, unknown>>(`
    SELECT ${dumped(REFS as RecordTable<never>)} FROM refs WHERE file_id = ?
    ORDER BY line, col, kind, name, context, module, flags`);
  // flags are stored as JSON text; the dump shows them as arrays
  const withFlags = (row: Record<string, unknown>) => ({ ...row, flags: parseFlags(row.flags as string | null) });
  for (const f of files) {
    const { id, ...file } = f;
    yield JSON.stringify({ type: 'file', ...file });
    let n = 0;
    for (const s of symbols.all(id)) yield JSON.stringify({ type: 'symbol', id: `${f.path}#${n++}`, path: f.path, ...withFlags(s) });
    for (const r of refs.all(id)) yield JSON.stringify({ type: 'ref', path: f.path, ...withFlags(r) });
  }
}
