import type Database from 'better-sqlite3';
import picomatch from 'picomatch';
import { parseFlags } from '../index-store/schema.js';
import { LANGUAGES, REF_KINDS, SYMBOL_KINDS } from '../protocol/types.js';
import { symbolPositionSql } from './columns.js';
import { QueryError } from '../errors.js';


/** Kinds that define something a person looks up (ranked first), then impl blocks, then data (variables/fields). */
export const DEFINITION_KINDS = [
  'function',
  'method',
  'constructor',
  'class',
  'struct',
  'enum',
  'interface',
  'trait',
  'type',
  'namespace',
  'module',
  'macro',
] as const;

/** SQL expression: 0 for definitions, 1 for impl blocks, 2 for everything else (variables, fields, constants...). */
export const DEF_RANK_SQL = `CASE WHEN s.kind IN (${DEFINITION_KINDS.map((k) => `'${k}'`).join(', ')}) THEN 0 WHEN s.kind = 'impl' THEN 1 ELSE 2 END`;
/** DEF_RANK_SQL for rows already read. */
export const defRank = (kind: string): number => ((DEFINITION_KINDS as readonly string[]).includes(kind) ? 0 : kind === 'impl' ? 1 : 2);

export interface SymbolHit {
  path: string;
  language: string;
  name: string;
  kind: string;
  scope: string | null;
  qualified: string;
  /** The name's own position ("go to definition"). */
  line: number;
  col: number;
  /** The enclosing range: decorators and doc comment included, body included. */
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
  signature: string;
  doc: string | null;
  flags: string[];
}

const POS = symbolPositionSql('s');

/** Column list for SymbolHit rows; the query must alias symbols as s and files as f. */
export const SYMBOL_COLUMNS = `f.path AS path, f.language AS language, s.name AS name, s.kind AS kind, s.scope AS scope,
  s.qualified AS qualified, ${POS.line} AS line, ${POS.col} AS col, s.start_line AS startLine, s.start_col AS startCol,
  s.end_line AS endLine, s.end_col AS endCol,
  s.signature AS signature, s.doc AS doc, s.flags AS flags`;

export type SymbolRow = Omit<SymbolHit, 'flags'> & { flags: string | null };

export const toHit = (r: SymbolRow): SymbolHit => ({ ...r, flags: parseFlags(r.flags) });

/** Results cut to a limit say how many more there were. `more` is a lower bound when `moreIsLowerBound`. */
export interface Page<T> {
  results: T[];
  total: number;
  more: number;
  moreIsLowerBound: boolean;
}

export interface CommonFilters {
  /** Symbol kinds (or ref kinds for refs), any of. */
  kind?: readonly string[];
  /** Languages, any of. */
  lang?: readonly string[];
  /** Glob over repo-relative paths (picomatch); without a slash it matches the file name; a plain folder matches below it. */
  path?: string;
}

export function checkKinds(kinds: readonly string[] | undefined, allowed: readonly string[] = SYMBOL_KINDS): string[] | undefined {
  if (!kinds || kinds.length === 0) return undefined;
  const out = kinds.flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
  for (const k of out) {
    if (!allowed.includes(k)) throw new QueryError(`unknown kind "${k}" (one of: ${allowed.join(', ')})`);
  }
  return out.length ? out : undefined;
}

export const checkRefKinds = (kinds: readonly string[] | undefined) => checkKinds(kinds, REF_KINDS);

export function checkLangs(langs: readonly string[] | undefined): string[] | undefined {
  if (!langs || langs.length === 0) return undefined;
  const out = langs.flatMap((k) => k.split(',')).map((k) => k.trim().toLowerCase()).filter(Boolean);
  const alias: Record<string, string> = { py: 'python', js: 'javascript', ts: 'typescript', rs: 'rust' };
  const norm = out.map((l) => alias[l] ?? l);
  for (const l of norm) {
    if (!(LANGUAGES as readonly string[]).includes(l)) throw new QueryError(`unknown language "${l}" (one of: ${LANGUAGES.join(', ')})`);
  }
  return norm.length ? norm : undefined;
}

const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** A predicate over repo-relative paths for `--path`. */
export function pathMatcher(glob: string): (path: string) => boolean {
  let g = glob.trim().replace(/^\.\//, '');
  if (!g) throw new QueryError('empty --path glob');
  if (!GLOB_CHARS.test(g)) {
    // A plain path: the file itself, or everything under the folder.
    g = g.replace(/\/+$/, '');
    return (p) => p === g || p.startsWith(g + '/');
  }
  try {
    return picomatch(g, { dot: true, basename: !g.includes('/') });
  } catch (e) {
    throw new QueryError(`bad --path glob "${glob}": ${(e as Error).message}`);
  }
}

interface FileRow {
  id: number;
  path: string;
  language: string;
}

const fileCache = new WeakMap<Database.Database, FileRow[]>();

export function allFiles(db: Database.Database): FileRow[] {
  let rows = fileCache.get(db);
  if (!rows) {
    rows = db.prepare<[], FileRow>('SELECT id, path, language FROM files ORDER BY path').all();
    fileCache.set(db, rows);
  }
  return rows;
}

const stmtCache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** Prepared statements are cached per connection: queries build SQL from their filters, and preparing costs more than running. */
export function stmt<P extends unknown[] = unknown[], R = unknown>(db: Database.Database, sql: string): Database.Statement<P, R> {
  let m = stmtCache.get(db);
  if (!m) stmtCache.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s as unknown as Database.Statement<P, R>;
}

/**
 * SQL conditions (AND-ed) and their parameters for the filters; `s` is symbols (or refs aliased `s`), `f` files.
 * A path glob becomes a list of file ids (matched once in JS, passed as JSON).
 */
export function filterSql(db: Database.Database, f: CommonFilters, kindColumn = 's.kind'): { sql: string; params: unknown[]; none: boolean } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (f.kind?.length) {
    conds.push(`${kindColumn} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(f.kind));
  }
  if (f.lang?.length) {
    conds.push('f.language IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(f.lang));
  }
  let none = false;
  if (f.path) {
    const match = pathMatcher(f.path);
    const ids = allFiles(db)
      .filter((r) => match(r.path))
      .map((r) => r.id);
    if (ids.length === 0) none = true;
    conds.push('f.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(ids));
  }
  return { sql: conds.length ? ' AND ' + conds.join(' AND ') : '', params, none };
}

/** Longest name a lookup takes, and longest text a search takes: past these a query is an error, not a slow scan. */
export const MAX_NAME_CHARS = 500;
export const MAX_QUERY_CHARS = 1000;

/** Rejects empty or over-long query text with a QueryError that says what the limit is; returns the text trimmed. */
export function checkText(text: string, what: string, max: number): string {
  if (typeof text !== 'string') throw new QueryError(`${what} must be a string`);
  if (text.length > max) throw new QueryError(`${what} is too long (${text.length} characters; at most ${max})`);
  const t = text.trim();
  if (!t) throw new QueryError(`empty ${what}`);
  return t;
}

export function clampLimit(limit: number | undefined, def: number, max: number): number {
  if (limit === undefined || limit === null) return def;
  if (!Number.isInteger(limit) || limit < 1) throw new QueryError(`--limit must be a positive integer (got ${limit})`);
  return Math.min(limit, max);
}

const byIdCache = new WeakMap<Database.Database, Map<number, FileRow>>();

export function fileById(db: Database.Database): Map<number, FileRow> {
  let m = byIdCache.get(db);
  if (!m) {
    m = new Map(allFiles(db).map((r) => [r.id, r]));
    byIdCache.set(db, m);
  }
  return m;
}

/** File ids allowed by the language and path filters, or null when every file is allowed. */
export function allowedFileIds(db: Database.Database, f: { lang?: readonly string[]; path?: string }): Set<number> | null {
  if (!f.lang?.length && !f.path) return null;
  const match = f.path ? pathMatcher(f.path) : () => true;
  const langs = f.lang?.length ? new Set(f.lang) : null;
  return new Set(
    allFiles(db)
      .filter((r) => (!langs || langs.has(r.language)) && match(r.path))
      .map((r) => r.id),
  );
}
