import type Database from 'better-sqlite3';
import { identifierWords } from '../index-store/writer.js';
import {
  checkKinds,
  checkLangs,
  clampLimit,
  DEF_RANK_SQL,
  filterSql,
  QueryError,
  stmt,
  SYMBOL_COLUMNS,
  toHit,
  type CommonFilters,
  type Page,
  type SymbolHit,
  type SymbolRow,
} from './common.js';

export interface SearchOptions extends CommonFilters {
  limit?: number;
}

export interface SearchHit extends SymbolHit {
  /** bm25 score, lower is better (SQLite's convention). */
  score: number;
}

export interface SearchResult extends Page<SearchHit> {
  query: string;
  /** The FTS5 expression that was run (the user's words, quoted). */
  fts: string;
}

export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 1000;

/** Column weights for bm25: name, words (name split into words), qualified, signature, doc. */
const BM25 = 'bm25(symbols_fts, 10.0, 6.0, 3.0, 1.5, 0.5)';

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Turns free text into a safe FTS5 expression: words only (punctuation, quotes and FTS operators in the user's text
 * are separators, never syntax), each a prefix term, all required. An identifier also matches its parts in
 * order through the `words` column, so "getUser" finds get_user_name and GetUserById.
 */
export function toFtsQuery(text: string): string {
  const tokens = text.split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
  const terms = tokens.map((t) => {
    const words = identifierWords(t).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const whole = `${quote(t)}*`;
    if (words.length > 1) return `(${whole} OR words : ${quote(words.join(' '))}*)`;
    if (words.length === 1 && words[0] !== t.toLowerCase()) return `(${whole} OR words : ${quote(words[0])}*)`;
    return whole;
  });
  return terms.join(' AND ');
}

/** Full-text search over symbol names, their words, qualified names (scopes), signatures and docs; bm25 ranked. */
export function searchSymbols(db: Database.Database, text: string, opts: SearchOptions = {}): SearchResult {
  const fts = toFtsQuery(text);
  if (!fts) throw new QueryError(`search text has no words to look for: "${text}"`);
  const limit = clampLimit(opts.limit, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT);
  const f = filterSql(db, { kind: checkKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path });
  if (f.none) return { query: text, fts, results: [], total: 0, more: 0, moreIsLowerBound: false };

  const rank = `${DEF_RANK_SQL}, length(s.qualified), f.path, s.start_line`;
  let rows: (SymbolRow & { score: number })[];
  if (!f.sql) {
    // No filters: rank inside FTS5 and join only the best rows (the join is what costs for a common word).
    // A few extra rows let equal scores at the cut still be ordered by kind, length and path.
    rows = stmt<unknown[], SymbolRow & { score: number }>(
      db,
      `SELECT ${SYMBOL_COLUMNS}, m.score AS score FROM
         (SELECT rowid AS id, ${BM25} AS score FROM symbols_fts WHERE symbols_fts MATCH ? ORDER BY score LIMIT ?) m
       JOIN symbols s ON s.id = m.id JOIN files f ON f.id = s.file_id
       ORDER BY m.score, ${rank}`,
    )
      .all(fts, limit + 20)
      .slice(0, limit);
  } else {
    rows = stmt<unknown[], SymbolRow & { score: number }>(
      db,
      `SELECT ${SYMBOL_COLUMNS}, m.score AS score FROM
         (SELECT rowid AS id, ${BM25} AS score FROM symbols_fts WHERE symbols_fts MATCH ?) m
       JOIN symbols s ON s.id = m.id JOIN files f ON f.id = s.file_id
       WHERE 1${f.sql}
       ORDER BY m.score, ${rank} LIMIT ?`,
    ).all(fts, ...f.params, limit);
  }
  let total = rows.length;
  if (rows.length === limit) {
    total = f.sql
      ? stmt<unknown[], { n: number }>(
          db,
          `SELECT count(*) AS n FROM symbols_fts m JOIN symbols s ON s.id = m.rowid JOIN files f ON f.id = s.file_id
           WHERE symbols_fts MATCH ?${f.sql}`,
        ).get(fts, ...f.params)!.n
      : stmt<[string], { n: number }>(db, 'SELECT count(*) AS n FROM symbols_fts WHERE symbols_fts MATCH ?').get(fts)!.n;
  }
  const results = rows.map((r) => ({ ...toHit(r), score: Math.round(r.score * 1000) / 1000 }));
  return { query: text, fts, results, total, more: total - results.length, moreIsLowerBound: false };
}
