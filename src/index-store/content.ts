import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { listRepository } from '../discover/discover.js';
import { languageOf } from '../extract/extensions.js';
import { sha1 } from '../plan/hash.js';

/**
 * File-content search index: source text in chunks of CHUNK_LINES lines, one FTS5 row per chunk, trigram
 * tokenized, so a substring of three or more characters finds its chunks through the index (`text LIKE '%...%'`
 * is answered from the trigram lists, then verified against the stored text) and the query checks the chunk's
 * lines. detail=none keeps only which rows hold a trigram, not where: every candidate is re-checked anyway.
 * Chunks rather than lines: on the Python stdlib + Rust library (53 MB) one row per line cost +136 MB, one per
 * 32 lines +95 MB and built faster, with the same query latency; one row per file (+58 MB) made queries several
 * times slower (every candidate file is read and scanned whole).
 *
 * rowid = file id * 2^21 + the chunk's first line, so a file's rows are one rowid range (cheap to delete) and
 * results come back grouped by file in line order. `content_files` records which content (hash) each file id was
 * indexed from: unchanged files are skipped on the next run, and rows of files that were removed or replaced
 * (SQLite may reuse a freed files.id) are deleted.
 */
export const CONTENT_SCHEMA = `
CREATE VIRTUAL TABLE IF NOT EXISTS content_fts USING fts5(text, tokenize = 'trigram', detail = none);
CREATE TABLE IF NOT EXISTS content_files (
  file_id INTEGER PRIMARY KEY,
  path    TEXT NOT NULL,
  hash    TEXT NOT NULL,
  lines   INTEGER NOT NULL
);
`;

export const LINE_BITS = 2 ** 21;
/** Lines per row. */
export const CHUNK_LINES = 32;
/** Lines longer than this are stored cut (minified code): matches beyond it are not found. */
export const MAX_LINE_CHARS = 2000;
/** Files that never reach the content index: not text, or too big to have been read. */
const SKIP_CODES = ['binary', 'non-utf8', 'oversize', 'unreadable', 'deleted', 'path-escape', 'not-regular'];

export const rowidOf = (fileId: number, line: number) => fileId * LINE_BITS + line;
export const fileIdOf = (rowid: number) => Math.floor(rowid / LINE_BITS);
export const lineOf = (rowid: number) => rowid % LINE_BITS;

export interface ContentStats {
  /** Files (re)read and indexed this time. */
  indexed: number;
  /** Files whose indexed content was already current. */
  unchanged: number;
  /** Files whose content on disk no longer matches files.hash (changed since the parse): left out until the next run. */
  changed: number;
  /** Files that could not be read (deleted, permission). */
  unreadable: number;
  /** Files whose rows were dropped (removed from the index, or replaced). */
  removed: number;
  /** Lines and rows (chunks) written. */
  lines: number;
  chunks: number;
  bytes: number;
  ms: number;
}

interface FileRow {
  id: number;
  path: string;
  hash: string;
}

/**
 * Brings the content index in line with the files table: reads each indexed file from `root`, checks its sha1
 * against files.hash (a file edited since it was parsed is left out rather than indexed with content that does not
 * match its symbols), and inserts its lines. With `paths`, only those files are (re)read; rows of files no longer
 * in the index are removed either way. Call it on the writer's connection before commit.
 */
export async function buildContentIndex(db: Database.Database, root: string, paths?: Iterable<string> | null): Promise<ContentStats> {
  const t0 = performance.now();
  db.exec(CONTENT_SCHEMA);
  const only = paths ? new Set(paths) : null;
  const files = db
    .prepare<[], FileRow>(
      `SELECT id, path, hash FROM files WHERE hash != '' AND (error_code IS NULL OR error_code NOT IN (${SKIP_CODES.map((c) => `'${c}'`).join(', ')}))`,
    )
    .all();
  const wanted = new Map(files.map((f) => [f.id, f]));
  const have = new Map(
    db
      .prepare<[], { file_id: number; path: string; hash: string }>('SELECT file_id, path, hash FROM content_files')
      .all()
      .map((r) => [r.file_id, r]),
  );

  const delRange = db.prepare('DELETE FROM content_fts WHERE rowid >= ? AND rowid < ?');
  const delFile = db.prepare('DELETE FROM content_files WHERE file_id = ?');
  const insLine = db.prepare('INSERT INTO content_fts (rowid, text) VALUES (?, ?)');
  const insFile = db.prepare('INSERT OR REPLACE INTO content_files (file_id, path, hash, lines) VALUES (?, ?, ?, ?)');
  const drop = (id: number) => {
    delRange.run(rowidOf(id, 0), rowidOf(id + 1, 0));
    delFile.run(id);
  };

  const stats: ContentStats = { indexed: 0, unchanged: 0, changed: 0, unreadable: 0, removed: 0, lines: 0, chunks: 0, bytes: 0, ms: 0 };

  // Stale rows first: files gone from the index, or whose id now names other content.
  db.transaction(() => {
    for (const [id, h] of have) {
      const w = wanted.get(id);
      if (!w || w.path !== h.path || w.hash !== h.hash) {
        drop(id);
        have.delete(id);
        stats.removed++;
      }
    }
  })();

  const todo = files.filter((f) => !have.has(f.id) && (!only || only.has(f.path)));
  stats.unchanged = files.filter((f) => have.has(f.id)).length;

  // Read in parallel, insert in batches of files (one transaction each).
  const CONCURRENCY = 16;
  const BATCH = 200;
  for (let start = 0; start < todo.length; start += BATCH) {
    const chunk = todo.slice(start, start + BATCH);
    const texts: (string | null | 'changed')[] = new Array(chunk.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < chunk.length) {
        const i = next++;
        try {
          const buf = await readFile(join(root, chunk[i].path));
          texts[i] = sha1(buf) === chunk[i].hash ? buf.toString('utf8') : 'changed';
        } catch {
          texts[i] = null;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, chunk.length) }, worker));
    db.transaction(() => {
      chunk.forEach((f, i) => {
        const text = texts[i];
        if (text === null) return void stats.unreadable++;
        if (text === 'changed') return void stats.changed++;
        const lines = text.split('\n');
        if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the newline ending the last line
        const n = Math.min(lines.length, LINE_BITS - 1);
        for (let start = 0; start < n; start += CHUNK_LINES) {
          const chunk = lines.slice(start, Math.min(start + CHUNK_LINES, n)).map((l) => {
            const s = l.endsWith('\r') ? l.slice(0, -1) : l;
            return s.length > MAX_LINE_CHARS ? s.slice(0, MAX_LINE_CHARS) : s;
          });
          const body = chunk.join('\n');
          if (!body.trim()) continue;
          insLine.run(rowidOf(f.id, start + 1), body);
          stats.chunks++;
        }
        insFile.run(f.id, f.path, f.hash, n);
        stats.indexed++;
        stats.lines += n;
        stats.bytes += Buffer.byteLength(text);
      });
    })();
  }
  stats.ms = Math.round(performance.now() - t0);
  return stats;
}

/** Whether an index has a content index (older indexes, or runs that did not build one, do not). */
export function hasContentIndex(db: Database.Database): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'content_files'").get();
}

/** Text files larger than this are left out of content search (like the indexer's default --max-file-size). */
const OTHER_MAX_BYTES = 1024 * 1024;
/** git's heuristic: a NUL byte in the first 8000 bytes means binary. */
const BINARY_SNIFF = 8000;
/** How long a listing of the tree is reused: content searches in a row do not run `git ls-files` each time. */
const LISTING_TTL_MS = 3000;

const listings = new Map<string, { at: number; generation: number | undefined; paths: Promise<string[]> }>();

/**
 * The files content search reads besides the indexed ones: every file git lists (default excludes applied) that no
 * grammar handles (docs, templates, configs, scripts), smaller than 1 MiB and not binary. Read from disk by the
 * search, so they are always current. The listing is reused while `generation` (a count of the changes a watcher
 * saw) stays the same, or, without one, for a few seconds.
 */
export async function otherTextFiles(root: string, generation?: number): Promise<string[]> {
  let l = listings.get(root);
  const stale = !l || (generation === undefined ? performance.now() - l.at > LISTING_TTL_MS : l.generation !== generation);
  if (!l || stale) {
    const paths = listRepository({ root, include: [], exclude: [], defaultExcludes: true }).then((r) => r.paths.filter((p) => languageOf(p) === null).sort());
    listings.set(root, (l = { at: performance.now(), generation, paths }));
    paths.catch(() => listings.delete(root));
  }
  return l.paths;
}

/** A file's text for content search, or null when it is too big, binary (a NUL byte near the start) or unreadable. */
export function readTextFile(abs: string): string | null {
  try {
    if (statSync(abs).size > OTHER_MAX_BYTES) return null;
    const buf = readFileSync(abs);
    if (buf.subarray(0, BINARY_SNIFF).includes(0)) return null;
    return buf.toString('utf8');
  } catch {
    return null;
  }
}
