import type Database from 'better-sqlite3';
import type { RefRecord, SymbolRecord } from '../protocol/types.js';

/** Bump with every schema change; an index with another version is rebuilt, never half-migrated. */
export const SCHEMA_VERSION = 2;

/**
 * The columns of `symbols` and `refs` that records are written to, in the order of `symbolValues`/`refValues`.
 * Code that writes or copies rows (the writer, fragments, the export) takes its column lists from here, so that a
 * new column is one edit in this file.
 */
export const SYMBOL_COLUMNS = [
  'file_id', 'name', 'kind', 'scope', 'qualified', 'name_line', 'name_col',
  'start_line', 'start_col', 'end_line', 'end_col', 'signature', 'doc', 'flags',
] as const;
export const REF_COLUMNS = ['file_id', 'kind', 'name', 'line', 'col', 'scope', 'context', 'module', 'flags'] as const;

/** A list of flags as stored: a JSON array (flags may contain spaces, e.g. `trait Display`), or NULL. */
export const flagsText = (flags: readonly string[] | undefined): string | null => (flags?.length ? JSON.stringify(flags) : null);
export const parseFlags = (text: string | null): string[] => (text ? (JSON.parse(text) as string[]) : []);

/** A symbol's values for SYMBOL_COLUMNS. */
export function symbolValues(fileId: number | bigint, s: SymbolRecord): unknown[] {
  return [fileId, s.name, s.kind, s.scope, s.qualified, s.nameLine, s.nameCol, s.startLine, s.startCol, s.endLine, s.endCol, s.signature, s.doc, flagsText(s.flags)];
}

/** A reference's values for REF_COLUMNS. */
export function refValues(fileId: number | bigint, r: RefRecord): unknown[] {
  return [fileId, r.kind, r.name, r.line, r.col, r.scope, r.context, r.module, flagsText(r.flags)];
}

/** `a, b, c` of a column list, without `file_id` when `withFile` is false. */
export const columnList = (columns: readonly string[], withFile = true): string => (withFile ? columns : columns.filter((c) => c !== 'file_id')).join(', ');

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS files (
  id           INTEGER PRIMARY KEY,
  path         TEXT NOT NULL UNIQUE,
  language     TEXT NOT NULL,
  size         INTEGER NOT NULL,
  mtime_ms     INTEGER NOT NULL DEFAULT 0,
  hash         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'error')),
  error_code   TEXT,
  error        TEXT,
  symbol_count INTEGER NOT NULL DEFAULT 0,
  ref_count    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS symbols (
  id         INTEGER PRIMARY KEY,
  file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  kind       TEXT NOT NULL,
  scope      TEXT,
  qualified  TEXT NOT NULL,
  -- the name's own position ("go to definition"); start..end is the enclosing range (decorators, doc, body)
  name_line  INTEGER NOT NULL,
  name_col   INTEGER NOT NULL,
  start_line INTEGER NOT NULL,
  start_col  INTEGER NOT NULL,
  end_line   INTEGER NOT NULL,
  end_col    INTEGER NOT NULL,
  signature  TEXT NOT NULL,
  doc        TEXT,
  flags      TEXT -- JSON array, or NULL
);

CREATE TABLE IF NOT EXISTS refs (
  id      INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL,
  name    TEXT NOT NULL,
  line    INTEGER NOT NULL,
  col     INTEGER NOT NULL,
  scope   TEXT,
  context TEXT,
  module  TEXT, -- imports: the module specifier
  flags   TEXT  -- JSON array, or NULL
);

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
