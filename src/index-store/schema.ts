import type Database from 'better-sqlite3';

/** Bump with every schema change; an index with another version is rebuilt, never half-migrated. */
export const SCHEMA_VERSION = 1;

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
  start_line INTEGER NOT NULL,
  start_col  INTEGER NOT NULL,
  end_line   INTEGER NOT NULL,
  end_col    INTEGER NOT NULL,
  signature  TEXT NOT NULL,
  doc        TEXT,
  flags      TEXT
);

CREATE TABLE IF NOT EXISTS refs (
  id      INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL,
  name    TEXT NOT NULL,
  line    INTEGER NOT NULL,
  col     INTEGER NOT NULL,
  scope   TEXT,
  context TEXT
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
