import type Database from 'better-sqlite3';
import { identifierWords } from '../index-store/schema.js';
import { checkKinds, checkLangs, checkText, clampLimit, defRank, DEF_RANK_SQL, filterSql, MAX_QUERY_CHARS, stmt, SYMBOL_COLUMNS, toHit, type CommonFilters, type Page, type SymbolHit, type SymbolRow } from './common.js';
import { pathRank } from './rank.js';
import { QueryError } from '../errors.js';

export interface SearchOptions extends CommonFilters {
  limit?: number;
}

export interface SearchHit extends SymbolHit {
  /** bm25 score, lower is better (SQLite's convention), before the path weighting. */
  score: number;
  /** 'all': matches every word; 'any': only some (found because fewer than the limit matched them all). */
  matched: 'all' | 'any';
}

export interface SearchResult extends Page<SearchHit> {
  query: string;
  /** The FTS5 expressions run: all words, then all word prefixes, then (when those found almost nothing) any word. */
  fts: { words: string; prefixes: string; any: string };
  /** How many of the results (the first ones) match every word; the rest match some of them. */
  allMatches: number;
  /** The words searched for (distinct, stop words left out). */
  words: string[];
  /** Words of the text that were not searched for: stop words, and words past MAX_SEARCH_WORDS. */
  ignored: string[];
  /**
   * False when whole-word matches filled the limit, or the text had more than PREFIX_MAX_WORDS words: prefix-only
   * matches were then neither searched nor counted.
   */
  prefixSearched: boolean;
}

export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 1000;
/** Distinct words one search looks for; the rest of a longer text is ignored (and reported). */
export const MAX_SEARCH_WORDS = 16;

/** Column weights for bm25: name, words (name split into words), qualified, signature, doc. */
const BM25 = 'bm25(symbols_fts, 10.0, 6.0, 3.0, 1.5, 0.5)';
/**
 * Rows read by bm25 alone before the ranking below (exact names first, source before tests) reorders them: enough
 * that a source symbol a little behind a crowd of test helpers is still among them.
 */
const CANDIDATES = 100;
/**
 * The any-word stage runs when fewer results than this match every word. Its OR over every word costs a bm25 score
 * for every symbol matching any of them, so it is kept for the searches that need it.
 */
const ANY_BELOW = 3;
/** Longer texts skip the all-words-as-prefixes stage (see searchSymbols). */
const PREFIX_MAX_WORDS = 3;

/** Words that carry no meaning in a question about code ("how is the session cookie signed"). */
const STOP_WORDS = new Set(
  ('a an and are as at be by can do does for from how i if in into is it its of on or should so that the their then ' +
    'there these this to was we what when where which who why will with would you').split(' '),
);

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The words a search looks for: the text split on everything but letters, digits and `_` (so quotes, operators and
 * punctuation are separators, never FTS syntax), distinct (case-insensitive), stop words left out unless nothing
 * else is left, at most MAX_SEARCH_WORDS.
 */
export function searchWords(text: string): { words: string[]; ignored: string[] } {
  const seen = new Set<string>();
  const all: string[] = [];
  for (const t of text.split(/[^\p{L}\p{N}_]+/u)) {
    if (!t || seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    all.push(t);
  }
  const content = all.filter((w) => !STOP_WORDS.has(w.toLowerCase()));
  const kept = content.length ? content : all;
  const words = kept.slice(0, MAX_SEARCH_WORDS);
  const taken = new Set(words);
  return { words, ignored: all.filter((w) => !taken.has(w)) };
}

/**
 * One word as an FTS5 term. An identifier also matches its parts in order through the `words` column, so "getUser"
 * finds get_user_name and GetUserById. With `prefix` the word is a prefix ("compr" finds compress).
 */
function ftsTerm(t: string, prefix: boolean): string {
  const star = prefix ? '*' : '';
  const words = identifierWords(t).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const whole = `${quote(t)}${star}`;
  if (words.length > 1) return `(${whole} OR words : ${quote(words.join(' '))}${star})`;
  if (words.length === 1 && words[0] !== t.toLowerCase()) return `(${whole} OR words : ${quote(words[0])}${star})`;
  return whole;
}

/** A plain word's stem for the any-word fallback: signed -> sign, cookies -> cookie, parsing -> pars (as prefixes). */
function stem(w: string): string {
  const l = w.toLowerCase();
  if (/[^a-z]/.test(l)) return w;
  if (l.length >= 6 && l.endsWith('ing')) return l.slice(0, -3);
  if (l.length >= 5 && l.endsWith('ed')) return l.slice(0, -2);
  if (l.length >= 4 && l.endsWith('s') && !l.endsWith('ss')) return l.slice(0, -1);
  return l;
}

/** Turns free text into a safe FTS5 expression requiring every word (see searchWords and ftsTerm). */
export function toFtsQuery(text: string, prefix = true): string {
  return searchWords(text).words.map((t) => ftsTerm(t, prefix)).join(' AND ');
}

/** Terms the any-word stage keeps: the rarest ones, and none found in more than RARE_SHARE of the symbols. */
const ANY_MAX_TERMS = 6;
const RARE_SHARE = 0.05;
/** ...and in more than this many rows: in a small index every word is in 5% of it. */
const COMMON_ROWS = 1000;

const vocabReady = new WeakSet<Database.Database>();

/** How many symbols' rows hold a term (or, with `prefix`, any term starting with it), from FTS5's own vocabulary. */
function termRows(db: Database.Database, term: string, prefix: boolean): number {
  if (!vocabReady.has(db)) {
    // A temp table: read-only connections may create them (the main file is not touched).
    db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.mcp_symbols_vocab USING fts5vocab(main, 'symbols_fts', 'row')");
    vocabReady.add(db);
  }
  const t = term.toLowerCase();
  if (!prefix) return stmt<[string], { n: number | null }>(db, 'SELECT doc AS n FROM temp.mcp_symbols_vocab WHERE term = ?').get(t)?.n ?? 0;
  return stmt<[string, string], { n: number | null }>(db, 'SELECT sum(doc) AS n FROM temp.mcp_symbols_vocab WHERE term >= ? AND term < ?').get(t, t + '\u{10FFFF}')?.n ?? 0;
}

/**
 * The any-word expression: each word whole, plus its stem as a prefix where that differs (signed: "signed" OR
 * sign*). Only the rarest words are kept, and none that most symbols contain ("test" in a standard library whose
 * tests are half of it): bm25 scores every symbol matching any term, and a common one would cost 100 ms for nothing.
 */
function anyWordQuery(db: Database.Database, terms: string[]): string {
  const total = stmt<[], { n: number }>(db, 'SELECT count(*) AS n FROM symbols').get()!.n || 1;
  const scored = terms.map((t) => {
    const st = stem(t);
    const withStem = st !== t.toLowerCase() && st.length >= 3;
    const rows = termRows(db, t, false) + (withStem ? termRows(db, st, true) : 0);
    return { expr: withStem ? `(${ftsTerm(t, false)} OR ${ftsTerm(st, true)})` : ftsTerm(t, false), rows };
  });
  const common = (x: { rows: number }) => x.rows > COMMON_ROWS && x.rows > total * RARE_SHARE;
  const rare = scored.filter((x) => x.rows > 0 && !common(x));
  const kept = new Set([...(rare.length ? rare : scored)].sort((a, b) => a.rows - b.rows).slice(0, ANY_MAX_TERMS));
  return scored.filter((x) => kept.has(x)).map((x) => x.expr).join(' OR ');
}

type Row = SymbolRow & { id: number; score: number };

/**
 * Full-text search over symbol names, their words, qualified names (scopes), signatures and docs.
 * 1. every word, whole; 2. every word as a prefix ("compr" -> compress), filling the rest of the limit (up to
 *    PREFIX_MAX_WORDS words); 3. when those found fewer than ANY_BELOW: any of the words (stems as prefixes), so a
 *    question in plain words still finds code.
 * Each stage ranks its best CANDIDATES by bm25, then reorders them: a name that is exactly the query's words first;
 * then source before examples, tests and vendored code; then by the share of the words in the qualified name (bm25
 * divides by the whole row's length, so a long docstring would sink its symbol); then by bm25.
 * Stages because a prefix of a common stem ("test"*) expands to thousands of index terms and costs many times more
 * than the whole word, which usually fills the limit on its own.
 */
export function searchSymbols(db: Database.Database, text: string, opts: SearchOptions = {}): SearchResult {
  checkText(text, 'search text', MAX_QUERY_CHARS);
  const { words: terms, ignored } = searchWords(text);
  if (terms.length === 0) throw new QueryError(`search text has no words to look for: "${text}"`);
  const words = terms.map((t) => ftsTerm(t, false)).join(' AND ');
  const prefixes = terms.map((t) => ftsTerm(t, true)).join(' AND ');
  const any = anyWordQuery(db, terms);
  const limit = clampLimit(opts.limit, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT);
  const f = filterSql(db, { kind: checkKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path });
  const fts = { words, prefixes, any };
  const base = { query: text, fts, words: terms, ignored };
  if (f.none) return { ...base, allMatches: 0, results: [], total: 0, more: 0, moreIsLowerBound: false, prefixSearched: true };

  const rank = `${DEF_RANK_SQL}, length(s.qualified), f.path, s.start_line`;
  const candidates = (expr: string, n: number): Row[] =>
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

  const exactName = new Set([terms.join(' '), ...terms].map((t) => identifierWords(t)));
  const stems = [...new Set(terms.map((t) => identifierWords(stem(t))))];
  const nameShare = (r: Row): number => {
    const parts = identifierWords(r.qualified).split(' ');
    return stems.filter((st) => parts.some((p) => p.startsWith(st))).length / stems.length;
  };
  const ranked = (rows: Row[]): Row[] => {
    const keyed = rows.map((r, i) => {
      const exact = exactName.has(identifierWords(r.name));
      // exact names first (definitions before impl blocks among them); then source before examples, tests and
      // vendored code; then the share of the words in the qualified name; then bm25; definitions before variables
      return { r, i, k: [exact ? 0 : 1, exact ? defRank(r.kind) : 0, pathRank(r.path), -nameShare(r), r.score, defRank(r.kind)] };
    });
    keyed.sort((a, b) => {
      for (let j = 0; j < a.k.length; j++) if (a.k[j] !== b.k[j]) return a.k[j] - b.k[j];
      return a.i - b.i;
    });
    return keyed.map((x) => x.r);
  };
  const pool = (expr: string) => ranked(candidates(expr, Math.max(CANDIDATES, limit)));

  const rows = pool(words).slice(0, limit);
  const seen = new Set(rows.map((r) => r.id));
  const fill = (from: Row[]) => {
    for (const r of from) {
      if (rows.length >= limit) break;
      if (!seen.has(r.id)) rows.push(r), seen.add(r.id);
    }
  };
  let total: number;
  let prefixSearched = false;
  let allMatches = rows.length;
  if (rows.length === limit) {
    total = count(words);
  } else {
    // Every whole-word match is also a prefix match: ranked past them. Not for a question in plain words (many
    // words): all of them as prefixes costs as much as the rest of the search and adds near misses.
    prefixSearched = terms.length <= PREFIX_MAX_WORDS;
    if (prefixSearched) fill(pool(prefixes));
    allMatches = rows.length;
    total = rows.length < limit ? rows.length : count(prefixSearched ? prefixes : words);
    // Hardly anything matches every word (a question in plain words): fill up with matches of any of them.
    if (rows.length < ANY_BELOW && rows.length < limit && any !== prefixes) {
      fill(pool(any));
      total = rows.length < limit ? rows.length : count(any);
    }
  }
  const results = rows.map(({ id: _id, ...r }, i) => ({ ...toHit(r), score: Math.round(r.score * 1000) / 1000, matched: i < allMatches ? ('all' as const) : ('any' as const) }));
  return { ...base, allMatches, results, total, more: total - results.length, moreIsLowerBound: !prefixSearched, prefixSearched };
}
