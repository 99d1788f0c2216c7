import type Database from 'better-sqlite3';
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
  /** Counts per tier (fuzzy is null when it was not searched because exact and prefix matches filled the limit). */
  counts: { exact: number; prefix: number; fuzzy: number | null };
}

export const FIND_DEFAULT_LIMIT = 20;
export const FIND_MAX_LIMIT = 1000;

/** Upper end of a NOCASE range holding every string that starts with the prefix. */
const PREFIX_END = '\u{10FFFF}';
/** At most this many distinct names take part in one fuzzy query (best first: substring matches, then short names). */
const FUZZY_NAME_CAP = 5000;

interface NameEntry {
  lower: string;
  mask: number;
}

const nameCache = new WeakMap<Database.Database, NameEntry[]>();

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

/** Distinct names (case-folded), loaded once per connection: the fuzzy tier scans them in memory. */
function names(db: Database.Database): NameEntry[] {
  let entries = nameCache.get(db);
  if (!entries) {
    const rows = db.prepare<[], { name: string }>('SELECT name FROM symbols GROUP BY name COLLATE NOCASE').raw().all() as unknown as string[][];
    entries = rows.map(([name]) => {
      const lower = name.toLowerCase();
      return { lower, mask: charMask(lower) };
    });
    nameCache.set(db, entries);
  }
  return entries;
}

function isSubsequence(q: string, s: string): boolean {
  let j = 0;
  for (let i = 0; i < s.length && j < q.length; i++) if (s.charCodeAt(i) === q.charCodeAt(j)) j++;
  return j === q.length;
}

/** Fuzzy candidates: names containing the query's characters in order (not exact, not prefix), substring ones first. */
function fuzzyNames(db: Database.Database, query: string): { names: string[]; truncated: boolean } {
  const q = query.toLowerCase();
  const qm = charMask(q);
  const substr: string[] = [];
  const subseq: string[] = [];
  for (const e of names(db)) {
    if ((e.mask & qm) !== qm || e.lower.length <= q.length) continue;
    if (e.lower.startsWith(q)) continue; // prefix tier
    if (e.lower.includes(q)) substr.push(e.lower);
    else if (isSubsequence(q, e.lower)) subseq.push(e.lower);
  }
  const byLen = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  substr.sort(byLen);
  subseq.sort(byLen);
  const all = substr.concat(subseq);
  return { names: all.slice(0, FUZZY_NAME_CAP), truncated: all.length > FUZZY_NAME_CAP };
}

/**
 * Symbols by name. Tiers: exact (case-insensitive; exact case first), then prefix, then fuzzy (the query's
 * characters in order, case-insensitive; substrings first). Within a tier: definitions before impl blocks before
 * variables/fields, then shorter qualified names, then path and line. Later tiers are only searched while earlier
 * ones have not filled the limit.
 */
export function findSymbols(db: Database.Database, query: string, opts: FindOptions = {}): FindResult {
  const name = query.trim();
  if (!name) throw new QueryError('empty name');
  const limit = clampLimit(opts.limit, FIND_DEFAULT_LIMIT, FIND_MAX_LIMIT);
  const match = opts.match ?? 'fuzzy';
  if (!MATCH_MODES.includes(match)) throw new QueryError(`unknown match mode "${match}" (exact, prefix or fuzzy)`);
  const filters = { kind: checkKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path };
  const f = filterSql(db, filters);

  const results: FindHit[] = [];
  const counts: FindResult['counts'] = { exact: 0, prefix: 0, fuzzy: null };
  if (f.none) return { query: name, results, total: 0, more: 0, moreIsLowerBound: false, counts: { exact: 0, prefix: 0, fuzzy: 0 } };

  const from = 'FROM symbols s JOIN files f ON f.id = s.file_id';
  const order = `${DEF_RANK_SQL}, length(s.qualified), f.path, s.start_line, s.start_col`;

  // exact
  const exactWhere = `WHERE s.name = ? COLLATE NOCASE${f.sql}`;
  const exactRows = stmt<unknown[], SymbolRow>(db, `SELECT ${SYMBOL_COLUMNS} ${from} ${exactWhere} ORDER BY s.name = ? DESC, ${order} LIMIT ?`).all(
    name,
    ...f.params,
    name,
    limit,
  );
  for (const r of exactRows) results.push({ ...toHit(r), match: 'exact' });
  counts.exact =
    exactRows.length < limit ? exactRows.length : stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${from} ${exactWhere}`).get(name, ...f.params)!.n;

  // prefix
  if (match !== 'exact') {
    const prefixWhere = `WHERE s.name >= ? COLLATE NOCASE AND s.name < ? COLLATE NOCASE AND length(s.name) > ?${f.sql}`;
    const args = [name, name + PREFIX_END, name.length, ...f.params];
    const room = limit - results.length;
    if (room > 0) {
      const rows = stmt<unknown[], SymbolRow>(
        db,
        `SELECT ${SYMBOL_COLUMNS} ${from} ${prefixWhere} ORDER BY substr(s.name, 1, ?) = ? DESC, ${order} LIMIT ?`,
      ).all(...args, name.length, name, room);
      for (const r of rows) results.push({ ...toHit(r), match: 'prefix' });
      counts.prefix = rows.length < room ? rows.length : stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${from} ${prefixWhere}`).get(...args)!.n;
    } else {
      counts.prefix = stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${from} ${prefixWhere}`).get(...args)!.n;
    }
  }

  // fuzzy: only while the limit is not yet filled
  let lowerBound = false;
  if (match === 'fuzzy' && results.length < limit) {
    const cand = fuzzyNames(db, name);
    lowerBound = cand.truncated;
    counts.fuzzy = 0;
    if (cand.names.length) {
      const fuzzyWhere = `WHERE s.name COLLATE NOCASE IN (SELECT value FROM json_each(?))${f.sql}`;
      const list = JSON.stringify(cand.names);
      const room = limit - results.length;
      const rows = stmt<unknown[], SymbolRow>(
        db,
        `SELECT ${SYMBOL_COLUMNS} ${from} ${fuzzyWhere} ORDER BY instr(lower(s.name), ?) = 0, ${order} LIMIT ?`,
      ).all(list, ...f.params, name.toLowerCase(), room);
      for (const r of rows) results.push({ ...toHit(r), match: 'fuzzy' });
      counts.fuzzy = rows.length < room ? rows.length : stmt<unknown[], { n: number }>(db, `SELECT count(*) AS n ${from} ${fuzzyWhere}`).get(list, ...f.params)!.n;
    }
  }

  const total = counts.exact + counts.prefix + (counts.fuzzy ?? 0);
  return { query: name, results, total, more: total - results.length, moreIsLowerBound: lowerBound, counts };
}
