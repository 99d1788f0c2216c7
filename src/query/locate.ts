import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { resolveRoot } from '../config/options.js';
import { defaultIndexPath } from '../index-store/location.js';
import { openIndex, readMetaAll } from '../index-store/reader.js';
import { IndexCorruptError, IndexNotFoundError } from '../errors.js';

export interface LocateInput {
  /** Repository whose default index to read. */
  repo?: string;
  /** Index file to read directly. */
  index?: string;
  /** Where to start looking upward for an index when neither is given (default: process.cwd()). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Located {
  indexPath: string;
  /** Real path of the repository, when known before opening (from --repo or the upward search). */
  root: string | null;
}

/**
 * Which index a query reads: `--index FILE`, else the default index of `--repo`, else the default index of the
 * current directory or its nearest parent that has one (so queries work from a subfolder, like git).
 */
export function locateIndex(input: LocateInput): Located {
  const env = input.env ?? process.env;
  if (input.index) {
    return { indexPath: resolve(input.index), root: input.repo ? resolveRoot(input.repo) : null };
  }
  if (input.repo) {
    const root = resolveRoot(input.repo);
    return { indexPath: defaultIndexPath(root, env), root };
  }
  let start: string;
  try {
    start = realpathSync(input.cwd ?? process.cwd());
  } catch {
    start = resolve(input.cwd ?? process.cwd());
  }
  for (let dir = start; ; dir = dirname(dir)) {
    const p = defaultIndexPath(dir, env);
    if (existsSync(p)) return { indexPath: p, root: dir };
    if (dirname(dir) === dir) break;
  }
  throw new IndexNotFoundError(`no index for ${start} or its parent folders: run \`mcp-index ${start}\` first, or pass --repo / --index`);
}

export interface OpenedIndex {
  db: Database.Database;
  indexPath: string;
  /** Repository root the paths in the index are relative to (null only if unknown). */
  root: string | null;
  meta: Record<string, string>;
}

/** Locates and opens an index read-only; throws IndexNotFoundError (a one-line exit-2 error) when there is none. */
export function openLocated(input: LocateInput): OpenedIndex {
  const loc = locateIndex(input);
  const db = openIndex(loc.indexPath);
  const meta = readMetaAll(db);
  return { db, indexPath: loc.indexPath, root: loc.root ?? meta.root ?? null, meta };
}

interface FileIdentity {
  ino: number;
  dev: number;
  mtimeMs: number;
  size: number;
}

function identity(path: string): FileIdentity | null {
  try {
    const s = statSync(path);
    return { ino: s.ino, dev: s.dev, mtimeMs: s.mtimeMs, size: s.size };
  } catch {
    return null;
  }
}

const sameIdentity = (a: FileIdentity, b: FileIdentity) => a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;

/**
 * A long-lived read-only connection for the server. A run builds a new file and renames it over the index, so an
 * open connection would keep reading the old, unlinked file: every `get()` compares the file's identity with the
 * one that was opened and reopens when it differs. Returns null while there is no index (yet).
 */
export class IndexHandle {
  private db: Database.Database | null = null;
  private opened: FileIdentity | null = null;
  private meta: Record<string, string> = {};
  /** Why the last open failed (not an index, wrong schema version, damaged), for the tools' messages. */
  lastError: string | null = null;
  /** The last open failed because the file is damaged (see IndexCorruptError). */
  damaged = false;

  constructor(readonly indexPath: string) {}

  get(): { db: Database.Database; meta: Record<string, string> } | null {
    const now = identity(this.indexPath);
    if (this.db && this.opened && now && sameIdentity(this.opened, now)) return { db: this.db, meta: this.meta };
    this.close();
    if (!now) {
      this.lastError = null;
      this.damaged = false;
      return null;
    }
    try {
      const db = openIndex(this.indexPath);
      this.db = db;
      this.opened = now;
      this.meta = readMetaAll(db);
      this.lastError = null;
      this.damaged = false;
      return { db, meta: this.meta };
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.damaged = err instanceof IndexCorruptError;
      return null;
    }
  }

  close(): void {
    if (this.db) {
      try {
        this.db.close();
      } catch {
        // already closed
      }
    }
    this.db = null;
    this.opened = null;
  }
}
