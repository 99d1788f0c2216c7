import type Database from 'better-sqlite3';
import { identifierWords } from '../index-store/schema.js';
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
  /** The FTS5 expressions run: whole words first, then word prefixes when whole words did not fill the limit. */
  fts: { words: string; prefixes: string };
  /** False when whole-word matches filled the limit, so prefix-only matches were neither searched nor counted. */
  prefixSearched: boolean;
}

export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 1000;

/** Column weights for bm25: name, words (name split into words), qualified, signature, doc. */
const BM25 = 'bm25(symbols_fts, 10.0, 6.0, 3.0, 1.5, 0.5)';
/** Extra rows ranked past the limit, so equal scores at the cut are still ordered by kind, length and path. */
const SLACK = 20;

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Turns free text into a safe FTS5 expression: words only (punctuation, quotes and FTS operators in the user's text
 * are separators, never syntax), all required. An identifier also matches its parts in order through the `words`
 * column, so "getUser" finds get_user_name and GetUserById. With `prefix`, every word is a prefix ("compr" finds
 * compress).
 */
export function toFtsQuery(text: string, prefix = true): string {
  const star = prefix ? '*' : '';
  const tokens = text.split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
  const terms = tokens.map((t) => {
    const words = identifierWords(t).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const whole = `${quote(t)}${star}`;
    if (words.length > 1) return `(${whole} OR words : ${quote(words.join(' '))}${star})`;
    if (words.length === 1 && words[0] !== t.toLowerCase()) return `(${whole} OR words : ${quote(words[0])}${star})`;
    return whole;
  });
  return terms.join(' AND ');
}

type Row = SymbolRow & { id: number; score: number };

/**
 * Full-text search over symbol names, their words, qualified names (scopes), signatures and docs; bm25 ranked.
 * Whole-word matches come first; prefix matches ("compr" -> compress) fill the rest of the limit. Two stages
 * because a prefix of a common stem ("test"*) expands to thousands of index terms and costs many times more than
 * the whole word, which usually fills the limit on its own.
 */
export function searchSymbols(db: Database.Database, text: string, opts: SearchOptions = {}): SearchResult {
  const words = toFtsQuery(text, false);
  if (!words) throw new QueryError(`search text has no words to look for: "${text}"`);
  const prefixes = toFtsQuery(text, true);
  const limit = clampLimit(opts.limit, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT);
  const f = filterSql(db, { kind: checkKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path });
  const fts = { words, prefixes };
  if (f.none) return { query: text, fts, results: [], total: 0, more: 0, moreIsLowerBound: false, prefixSearched: true };

  const rank = `${DEF_RANK_SQL}, length(s.qualified), f.path, s.start_line`;
  const ranked = (expr: string, n: number): Row[] =>
    f.sql
      ? stmt<unknown[], Row>(
          db,
          `SELECT s.id AS id, ${SYMBOL_COLUMNS}, m.score AS score FROM
             (SELECT rowid AS id, ${BM25} AS score FROM symbols_fts WHERE symbols_fts MATCH ?) m
           JOIN symbols s ON s.id = m.id JOIN files f ON f.id = s.file_id
           WHERE 1${f.sql}
           ORDER BY m.score, ${rank} LIMIT ?`,
        ).all(expr, ...f.params, n)
      : // No filters: rank inside FTS5 and join only the best rows (the join is what costs for a common word).
        stmt<unknown[], Row>(
          db,
          `SELECT s.id AS id, ${SYMBOL_COLUMNS}, m.score AS score FROM
             (SELECT rowid AS id, ${BM25} AS score FROM symbols_fts WHERE symbols_fts MATCH ? ORDER BY score LIMIT ?) m
           JOIN symbols s ON s.id = m.id JOIN files f ON f.id = s.file_id
           ORDER BY m.score, ${rank}`,
        ).all(expr, n);
  const count = (expr: string): number =>
    f.sql
      ? stmt<unknown[], { n: number }>(
          db,
          `SELECT count(*) AS n FROM symbols_fts m JOIN symbols s ON s.id = m.rowid JOIN files f ON f.id = s.file_id
           WHERE symbols_fts MATCH ?${f.sql}`,
        ).get(expr, ...f.params)!.n
      : stmt<[string], { n: number }>(db, 'SELECT count(*) AS n FROM symbols_fts WHERE symbols_fts MATCH ?').get(expr)!.n;

  const rows = ranked(words, limit + SLACK).slice(0, limit);
  let total: number;
  let prefixSearched = false;
  if (rows.length === limit) {
    total = count(words);
  } else {
    prefixSearched = true;
    // Every whole-word match is also a prefix match: rank past them.
    const seen = new Set(rows.map((r) => r.id));
    for (const r of ranked(prefixes, rows.length + limit + SLACK)) {
      if (rows.length >= limit) break;
      if (!seen.has(r.id)) rows.push(r);
    }
    total = rows.length < limit ? rows.length : count(prefixes);
  }
  const results = rows.map(({ id: _id, ...r }) => ({ ...toHit(r), score: Math.round(r.score * 1000) / 1000 }));
  return { query: text, fts, results, total, more: total - results.length, moreIsLowerBound: !prefixSearched, prefixSearched };
}
