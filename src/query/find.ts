import type Database from 'better-sqlite3';
import { checkKinds, checkLangs, checkText, clampLimit, DEF_RANK_SQL, defRank, filterSql, MAX_NAME_CHARS, stmt, SYMBOL_COLUMNS, toHit, type CommonFilters, type Page, type SymbolHit, type SymbolRow } from './common.js';
import { parseName, qualifierRank, type NameQuery } from './names.js';
import { pathRank, pathRankSql } from './rank.js';
import { QueryError } from '../errors.js';

export type MatchMode = 'exact' | 'prefix' | 'fuzzy';
export const MATCH_MODES: readonly MatchMode[] = ['exact', 'prefix', 'fuzzy'];

export interface FindOptions extends CommonFilters {
  /** The loosest match to include: exact only, exact+prefix, or all three (default). */
  match?: MatchMode;
  limit?: number;
}

export interface FindHit extends SymbolHit {
  match: MatchMode;
}

export interface FindResult extends Page<FindHit> {
  query: string;
  /** The qualifier the name was given with (`JSONDecoder` for JSONDecoder.decode), outermost first; empty for a plain name. */
  qualifier: string[];
  /** The loosest tier asked for. */
  match: MatchMode;
  /** Matches per tier; null for tiers not searched. */
  counts: { exact: number; prefix: number | null; fuzzy: number | null };
  /** True when fuzzy matches were asked for but not searched, because exact and prefix matches filled the limit. */
  fuzzySkipped: boolean;
}

export const FIND_DEFAULT_LIMIT = 20;
export const FIND_MAX_LIMIT = 1000;

/** Upper end of a NOCASE range holding every string that starts with the prefix. */
const PREFIX_END = '\u{10FFFF}';
/**
 * At most this many distinct names are ranked in one fuzzy query (best first: substring matches, then shorter
 * names); a short query can match thousands of names, and reading every one of their symbols costs more than
 * the ranking is worth. Counts still cover all of them (without filters).
 */
const FUZZY_RANK_CAP = 500;
/** ...and at most about this many symbols (one name with more is still ranked, alone). */
const FUZZY_SYMBOL_BUDGET = 2000;

/**
 * Distinct names in parallel arrays (one spelling per ASCII-case-insensitive group: what `= ? COLLATE NOCASE`
 * matches), with their lower-case form, character mask, length and symbol count. Typed arrays keep the fuzzy scan
 * a tight loop over ~100k names.
 */
interface NameTable {
  names: string[];
  lower: string[];
  masks: Int32Array;
  lengths: Uint16Array;
  counts: Uint32Array;
}

const nameCache = new WeakMap<Database.Database, NameTable>();

/** A 32-bit set of the characters a name contains: a quick "cannot be a subsequence" test before the real one. */
function charMask(s: string): number {
  let m = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) m |= 1 << (c - 97);
    else if (c >= 48 && c <= 57) m |= 1 << (27 + ((c - 48) % 5));
    else if (c === 95) m |= 1 << 26;
  }
  return m;
}

/** Loaded once per connection: the fuzzy tier scans the names in memory. */
function nameTable(db: Database.Database): NameTable {
  let t = nameCache.get(db);
  if (!t) {
    // Covering scan of the NOCASE name index: no table rows are read.
    const rows = db.prepare('SELECT name, count(*) FROM symbols GROUP BY name COLLATE NOCASE').raw().all() as [string, number][];
    const n = rows.length;
    t = { names: new Array(n), lower: new Array(n), masks: new Int32Array(n), lengths: new Uint16Array(n), counts: new Uint32Array(n) };
    for (let i = 0; i < n; i++) {
      const [name, count] = rows[i];
      const lower = name.toLowerCase();
      t.names[i] = name;
      t.lower[i] = lower;
      t.masks[i] = charMask(lower);
      t.lengths[i] = Math.min(lower.length, 65535);
      t.counts[i] = count;
    }
    nameCache.set(db, t);
  }
  return t;
}

/** Loads the name list ahead of the first fuzzy query (the server does this after opening an index). */
export function warmNames(db: Database.Database): void {
  nameTable(db);
}

function isSubsequence(q: string, s: string): boolean {
  let j = 0;
  for (let i = 0; i < s.length && j < q.length; i++) if (s.charCodeAt(i) === q.charCodeAt(j)) j++;
  return j === q.length;
}

/**
 * Fuzzy candidates: names containing the query's characters in order (not exact, not prefix). The names to rank
 * are the substring matches, then the others, shortest first, until FUZZY_RANK_CAP names or FUZZY_SYMBOL_BUDGET
 * symbols; `symbols` counts the symbols of every candidate.
 */
function fuzzyNames(db: Database.Database, query: string): { names: string[]; truncated: boolean; symbols: number } {
  const t = nameTable(db);
  const q = query.toLowerCase();
  const qm = charMask(q);
  const qlen = q.length;
  // Candidates bucketed by sub-tier and length: picking the shortest needs no full sort.
  const buckets: number[][][] = [[], []];
  let symbols = 0;
  let found = 0;
  const { masks, lengths, lower, counts } = t;
  for (let i = 0; i < masks.length; i++) {
    if (lengths[i] <= qlen || (masks[i] & qm) !== qm) continue;
    const s = lower[i];
    if (!isSubsequence(q, s) || s.startsWith(q)) continue; // not a match, or the prefix tier's
    const tier = s.includes(q) ? 0 : 1;
    (buckets[tier][lengths[i]] ??= []).push(i);
    symbols += counts[i];
    found++;
  }
  const picked: string[] = [];
  let budget = FUZZY_SYMBOL_BUDGET;
  outer: for (const tier of buckets) {
    for (const bucket of tier) {
      if (!bucket) continue;
      if (bucket.length > 1) bucket.sort((a, b) => (lower[a] < lower[b] ? -1 : lower[a] > lower[b] ? 1 : 0));
      for (const i of bucket) {
        if (picked.length >= FUZZY_RANK_CAP || (budget <= 0 && picked.length > 0)) break outer;
        picked.push(t.names[i]);
        budget -= counts[i];
      }
    }
  }
  return { names: picked, truncated: picked.length < found, symbols };
}

/**
 * Symbols by name. Tiers: exact (case-insensitive), then prefix, then fuzzy (the query's characters in order,
 * case-insensitive; names containing the query as a substring first). Within a tier: definitions before impl
 * blocks before variables/fields, source before examples, tests and vendored code, then the query's exact case
 * first, then shorter qualified names, then path. Later tiers are only searched while earlier ones have not filled
 * the limit. When many names match fuzzily, only the best of them (substring matches, then shorter names; see
 * FUZZY_RANK_CAP) are ranked; counts cover all.
 *
 * A qualified name (`JSONDecoder.decode`, `Config::new`, `mod::Type::fn`, `Class/method`) applies the tiers to its
 * last segment and keeps the symbols whose scope (and the module their file is) matches the rest; see names.ts.
 */
export function findSymbols(db: Database.Database, query: string, opts: FindOptions = {}): FindResult {
  const text = checkText(query, 'name', MAX_NAME_CHARS);
  const limit = clampLimit(opts.limit, FIND_DEFAULT_LIMIT, FIND_MAX_LIMIT);
  const match = opts.match ?? 'fuzzy';
  if (!MATCH_MODES.includes(match)) throw new QueryError(`unknown match mode "${match}" (exact, prefix or fuzzy)`);
  const filters = { kind: checkKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path };
  const f = filterSql(db, filters);
  const q = parseName(text);
  if (q.qualifier.length > 0 || q.anchored) return findQualified(db, q, f, limit, match);
  const name = q.name;

  const results: FindHit[] = [];
  const counts: FindResult['counts'] = { exact: 0, prefix: match === 'exact' ? null : 0, fuzzy: null };
  if (f.none) return { query: name, qualifier: [], match, results, total: 0, more: 0, moreIsLowerBound: false, counts, fuzzySkipped: false };

  const from = 'FROM symbols s JOIN files f ON f.id = s.file_id';
  // Without filters a count needs only the name index (no table rows): much cheaper for common names and prefixes.
  const countFrom = f.sql ? from : 'FROM symbols s';
  const byPath = pathRankSql(db);
  const order = (exactCase?: string) => `${DEF_RANK_SQL}, ${byPath}, ${exactCase ? exactCase + ', ' : ''}length(s.qualified), f.path, s.start_line, s.start_col`;

  // exact
  const exactWhere = `WHERE s.name = ? COLLATE NOCASE${f.sql}`;
  const exactRows = stmt<unknown[], SymbolRow>(db, `SELECT ${SYMBOL_COLUMNS} ${from} ${exactWhere} ORDER BY ${order('s.name != ?')} LIMIT ?`).all(
    name,
    ...f.params,
    name,
    limit,
  );
  for (const r of exactRows) results.push({ ...toHit(r), match: 'exact' });
  counts.exact =
    exactRows.length < limit ? exactRows.length : stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${countFrom} ${exactWhere}`).get(name, ...f.params)!.n;

  // prefix
  if (match !== 'exact') {
    const prefixWhere = `WHERE s.name >= ? COLLATE NOCASE AND s.name < ? COLLATE NOCASE AND length(s.name) > ?${f.sql}`;
    const args = [name, name + PREFIX_END, name.length, ...f.params];
    const room = limit - results.length;
    if (room > 0) {
      const rows = stmt<unknown[], SymbolRow>(
        db,
        `SELECT ${SYMBOL_COLUMNS} ${from} ${prefixWhere} ORDER BY ${order('substr(s.name, 1, ?) != ?')} LIMIT ?`,
      ).all(...args, name.length, name, room);
      for (const r of rows) results.push({ ...toHit(r), match: 'prefix' });
      counts.prefix = rows.length < room ? rows.length : stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${countFrom} ${prefixWhere}`).get(...args)!.n;
    } else {
      counts.prefix = stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${countFrom} ${prefixWhere}`).get(...args)!.n;
    }
  }

  // fuzzy: only while the limit is not yet filled
  let lowerBound = false;
  if (match === 'fuzzy' && results.length < limit) {
    const cand = fuzzyNames(db, name);
    lowerBound = cand.truncated && !!f.sql;
    counts.fuzzy = 0;
    if (cand.names.length) {
      const fuzzyWhere = `WHERE s.name COLLATE NOCASE IN (SELECT value FROM json_each(?))${f.sql}`;
      const list = JSON.stringify(cand.names);
      const room = limit - results.length;
      const rows = stmt<unknown[], SymbolRow>(
        db,
        `SELECT ${SYMBOL_COLUMNS} ${from} ${fuzzyWhere} ORDER BY instr(lower(s.name), ?) = 0, ${order()} LIMIT ?`,
      ).all(list, ...f.params, name.toLowerCase(), room);
      for (const r of rows) results.push({ ...toHit(r), match: 'fuzzy' });
      if (rows.length < room && !cand.truncated) counts.fuzzy = rows.length;
      else if (!f.sql) counts.fuzzy = cand.symbols;
      else counts.fuzzy = stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${from} ${fuzzyWhere}`).get(list, ...f.params)!.n;
    }
  }

  const total = counts.exact + (counts.prefix ?? 0) + (counts.fuzzy ?? 0);
  const fuzzySkipped = match === 'fuzzy' && counts.fuzzy === null;
  return { query: name, qualifier: [], match, results, total, more: total - results.length, moreIsLowerBound: lowerBound, counts, fuzzySkipped };
}

/** Rows read per tier for a qualified name before its qualifier is checked; past it the counts are lower bounds. */
const QUALIFIED_CAP = 5000;

const likeEscape = (s: string) => s.replace(/[\\%]/g, (c) => '\\' + c);

/** findSymbols for a qualified name: each tier's candidates by their last segment, kept when the qualifier matches. */
function findQualified(db: Database.Database, q: NameQuery, f: ReturnType<typeof filterSql>, limit: number, match: MatchMode): FindResult {
  const counts: FindResult['counts'] = { exact: 0, prefix: match === 'exact' ? null : 0, fuzzy: null };
  const base = { query: q.text, qualifier: q.qualifier, match, fuzzySkipped: false };
  if (f.none) return { ...base, results: [], total: 0, more: 0, moreIsLowerBound: false, counts };
  // The qualifier's last segment is in the scope, or (a module-level symbol) in the file's path: a cheap filter first.
  const last = q.qualifier[q.qualifier.length - 1];
  const pre = last && !/^(crate|self|super)$/i.test(last) ? ` AND (s.scope LIKE ? ESCAPE '\\' OR f.path LIKE ? ESCAPE '\\')` : '';
  const preArgs = pre ? [`%${likeEscape(last)}%`, `%${likeEscape(last)}%`] : [];
  const from = 'FROM symbols s JOIN files f ON f.id = s.file_id';
  const ranked = (where: string, args: unknown[], tier: MatchMode): { hits: FindHit[]; capped: boolean } => {
    const rows = stmt<unknown[], SymbolRow>(db, `SELECT ${SYMBOL_COLUMNS} ${from} WHERE ${where}${pre}${f.sql} LIMIT ${QUALIFIED_CAP}`).all(...args, ...preArgs, ...f.params);
    const keyed: { hit: FindHit; key: number[] }[] = [];
    for (const r of rows) {
      const qr = qualifierRank(q, r.scope, r.path);
      if (qr === null) continue;
      const exactCase = r.name === q.name || (tier === 'prefix' && r.name.startsWith(q.name)) ? 0 : 1;
      keyed.push({ hit: { ...toHit(r), match: tier }, key: [defRank(r.kind), qr, pathRank(r.path), exactCase, r.qualified.length] });
    }
    keyed.sort((a, b) => {
      for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i];
      return a.hit.path < b.hit.path ? -1 : a.hit.path > b.hit.path ? 1 : a.hit.line - b.hit.line;
    });
    return { hits: keyed.map((k) => k.hit), capped: rows.length >= QUALIFIED_CAP };
  };

  let lowerBound = false;
  const results: FindHit[] = [];
  const take = (r: { hits: FindHit[]; capped: boolean }) => {
    lowerBound ||= r.capped;
    results.push(...r.hits.slice(0, Math.max(0, limit - results.length)));
    return r.hits.length;
  };
  counts.exact = take(ranked('s.name = ? COLLATE NOCASE', [q.name], 'exact'));
  if (match !== 'exact') {
    counts.prefix = take(ranked('s.name >= ? COLLATE NOCASE AND s.name < ? COLLATE NOCASE AND length(s.name) > ?', [q.name, q.name + PREFIX_END, q.name.length], 'prefix'));
  }
  // A qualified name is asked for by someone who knows what they want: near misses only when nothing is closer.
  if (match === 'fuzzy' && results.length === 0) {
    const cand = fuzzyNames(db, q.name);
    lowerBound ||= cand.truncated;
    counts.fuzzy = cand.names.length ? take(ranked('s.name COLLATE NOCASE IN (SELECT value FROM json_each(?))', [JSON.stringify(cand.names)], 'fuzzy')) : 0;
  }
  const total = counts.exact + (counts.prefix ?? 0) + (counts.fuzzy ?? 0);
  const fuzzySkipped = match === 'fuzzy' && counts.fuzzy === null;
  return { ...base, results, total, more: total - results.length, moreIsLowerBound: lowerBound, counts, fuzzySkipped };
}
