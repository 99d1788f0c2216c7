import type Database from 'better-sqlite3';
import type { FileResult, RefRecord, SymbolRecord } from '../protocol/types.js';

/** Bump with every schema change; an index with another version is rebuilt, never half-migrated. */
export const SCHEMA_VERSION = 3;

/** Splits identifiers into lower-case words for FTS: getHTTPResponse_code -> "get http response code". */
export function identifierWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_\-$:.]+/g, ' ')
    .trim()
    .toLowerCase();
}

export type SqlValue = string | number | null;

/** One column of a record table: its definition, and the value a record gives it. */
export interface Column<T> {
  name: string;
  sql: string;
  value: (r: T) => SqlValue;
}

/**
 * A table of records a batch produces. Its first columns are the store's own (`id`, and `file_id` for the rows of a
 * file), assigned when rows are copied into the index; `columns` follow, in table order. Everything that writes or
 * copies these rows (fragments, the merge, renames) takes the column list from here, so a new column is one line.
 */
export interface RecordTable<T> {
  name: 'files' | 'symbols' | 'refs';
  /** Whether rows belong to a file (`file_id`). */
  perFile: boolean;
  columns: readonly Column<T>[];
}

/** A list of flags as stored: a JSON array (flags may contain spaces, e.g. `trait Display`), or NULL. */
export const flagsText = (flags: readonly string[] | undefined): string | null => (flags?.length ? JSON.stringify(flags) : null);
export const parseFlags = (text: string | null): string[] => (text ? (JSON.parse(text) as string[]) : []);

const col = <T>(name: string, sql: string, value: (r: T) => SqlValue): Column<T> => ({ name, sql, value });

/** `mtime_ms` is what discovery saw; a batch does not know it (0), the store sets it when the rows land. */
export const FILES: RecordTable<FileResult> = {
  name: 'files',
  perFile: false,
  columns: [
    col('path', 'TEXT NOT NULL UNIQUE', (f) => f.path),
    col('language', 'TEXT NOT NULL', (f) => f.language),
    col('size', 'INTEGER NOT NULL', (f) => f.size),
    col('mtime_ms', 'INTEGER NOT NULL DEFAULT 0', () => 0),
    col('hash', 'TEXT NOT NULL', (f) => f.hash),
    col('status', "TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'error'))", (f) => f.status),
    col('error_code', 'TEXT', (f) => f.error?.code ?? null),
    col('error', 'TEXT', (f) => f.error?.message ?? null),
    col('symbol_count', 'INTEGER NOT NULL DEFAULT 0', (f) => f.symbols.length),
    col('ref_count', 'INTEGER NOT NULL DEFAULT 0', (f) => f.refs.length),
  ],
};

export const SYMBOLS: RecordTable<SymbolRecord> = {
  name: 'symbols',
  perFile: true,
  columns: [
    col('name', 'TEXT NOT NULL', (s) => s.name),
    col('kind', 'TEXT NOT NULL', (s) => s.kind),
    col('scope', 'TEXT', (s) => s.scope),
    col('qualified', 'TEXT NOT NULL', (s) => s.qualified),
    // The name's own position ("go to definition"); start..end is the enclosing range (decorators, doc, body).
    col('name_line', 'INTEGER NOT NULL', (s) => s.nameLine),
    col('name_col', 'INTEGER NOT NULL', (s) => s.nameCol),
    col('start_line', 'INTEGER NOT NULL', (s) => s.startLine),
    col('start_col', 'INTEGER NOT NULL', (s) => s.startCol),
    col('end_line', 'INTEGER NOT NULL', (s) => s.endLine),
    col('end_col', 'INTEGER NOT NULL', (s) => s.endCol),
    col('signature', 'TEXT NOT NULL', (s) => s.signature),
    col('doc', 'TEXT', (s) => s.doc),
    col('flags', 'TEXT', (s) => flagsText(s.flags)),
    // The name's words for symbol search, computed where the symbol was found: the search rows are built from
    // this column, with no JavaScript call per row on the merging thread.
    col('words', 'TEXT NOT NULL', (s) => identifierWords(s.name)),
  ],
};

export const REFS: RecordTable<RefRecord> = {
  name: 'refs',
  perFile: true,
  columns: [
    col('kind', 'TEXT NOT NULL', (r) => r.kind),
    col('name', 'TEXT NOT NULL', (r) => r.name),
    col('line', 'INTEGER NOT NULL', (r) => r.line),
    col('col', 'INTEGER NOT NULL', (r) => r.col),
    col('scope', 'TEXT', (r) => r.scope),
    col('context', 'TEXT', (r) => r.context),
    col('module', 'TEXT', (r) => r.module ?? null), // imports: the module specifier
    col('flags', 'TEXT', (r) => flagsText(r.flags)),
  ],
};

/** The three record tables, parents first. */
export const RECORD_TABLES = [FILES, SYMBOLS, REFS] as const;

/** Column names of a record table, the store's own first. */
export function columnNames(t: RecordTable<never>): string[] {
  return ['id', ...(t.perFile ? ['file_id'] : []), ...t.columns.map((c) => c.name)];
}

function createTable(t: RecordTable<never>): string {
  const own = ['id INTEGER PRIMARY KEY', ...(t.perFile ? ['file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE'] : [])];
  return `CREATE TABLE IF NOT EXISTS ${t.name} (\n  ${[...own, ...t.columns.map((c) => `${c.name} ${c.sql}`)].join(',\n  ')}\n);`;
}

/** The record tables alone: what a batch fragment holds (see fragment.ts). */
export const RECORD_SCHEMA = RECORD_TABLES.map((t) => createTable(t as RecordTable<never>)).join('\n\n');

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

${RECORD_SCHEMA}

-- Batches merged into this build: a redelivered result is skipped, a resumed run skips what it already has.
CREATE TABLE IF NOT EXISTS run_batches (
  batch_id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Symbol search: names split into words (getUserName -> get user name) so FTS finds parts of identifiers.
-- Contentless with delete support: rows are keyed by symbols.id and removed with their file.
CREATE VIRTUAL TABLE IF NOT EXISTS symbols_fts USING fts5(
  name, words, qualified, signature, doc,
  content = '', contentless_delete = 1,
  tokenize = "unicode61 tokenchars '_'"
);
`;

/**
 * Secondary indexes. A fresh build creates them once at commit: sorting 1.5M finished rows costs a third of keeping
 * two B-trees ordered under every insert, and the build is never queried before it commits.
 */
const INDEXES = `
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE INDEX IF NOT EXISTS symbols_file ON symbols(file_id);
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS refs_file ON refs(file_id);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name);
`;

export function applySchema(db: Database.Database, withIndexes = true): void {
  db.exec(SCHEMA);
  if (withIndexes) applyIndexes(db);
}

export function applyIndexes(db: Database.Database): void {
  db.exec(INDEXES);
}
