import type Database from 'better-sqlite3';
import { checkLangs, checkRefKinds, clampLimit, filterSql, stmt, type CommonFilters, type Page } from './common.js';
import { QueryError } from '../errors.js';

export interface RefsOptions extends CommonFilters {
  limit?: number;
}

export interface RefHit {
  path: string;
  kind: 'call' | 'import';
  name: string;
  line: number;
  col: number;
  /** Qualified name of the enclosing definition, or null at top level. */
  scope: string | null;
  /** Call: the callee expression; import: the import as written (`b as c`). */
  context: string | null;
  /** Import: the module it imports from; call: null. */
  module: string | null;
}

export interface RefFile {
  path: string;
  refs: Omit<RefHit, 'path'>[];
}

export interface RefsResult extends Page<RefHit> {
  query: string;
  /** The results grouped by file (paths in order, lines ascending). */
  files: RefFile[];
  byKind: { call: number; import: number };
}

export const REFS_DEFAULT_LIMIT = 100;
export const REFS_MAX_LIMIT = 5000;

const QUALIFIER = /^(.*?)(?:\.|::|#|\/)([^.:#/]+)$/;

/**
 * Call sites and imports of a name. References are stored under the last identifier (`self.items.push` -> push,
 * `from os import path` -> path), so a qualified query (`os.path.join`, `std::mem::swap`) looks up its last part
 * and keeps the references whose context contains the qualifier.
 */
export function findRefs(db: Database.Database, query: string, opts: RefsOptions = {}): RefsResult {
  const q = query.trim();
  if (!q) throw new QueryError('empty name');
  const limit = clampLimit(opts.limit, REFS_DEFAULT_LIMIT, REFS_MAX_LIMIT);
  const m = QUALIFIER.exec(q);
  const name = m ? m[2] : q;
  const qualifier = m && m[1] ? m[1] : null;
  const f = filterSql(db, { kind: checkRefKinds(opts.kind), lang: checkLangs(opts.lang), path: opts.path }, 'r.kind');
  const empty: RefsResult = { query: q, results: [], files: [], total: 0, more: 0, moreIsLowerBound: false, byKind: { call: 0, import: 0 } };
  if (f.none) return empty;

  const qual = qualifier ? ' AND (instr(r.context, ?) > 0 OR instr(r.module, ?) > 0)' : '';
  const where = `FROM refs r JOIN files f ON f.id = r.file_id WHERE r.name = ?${qual}${f.sql}`;
  const args = [name, ...(qualifier ? [qualifier, qualifier] : []), ...f.params];
  const results = stmt<unknown[], RefHit>(
    db,
    `SELECT f.path AS path, r.kind AS kind, r.name AS name, r.line AS line, r.col AS col, r.scope AS scope, r.context AS context,
       r.module AS module
     ${where} ORDER BY f.path, r.line, r.col LIMIT ?`,
  ).all(...args, limit);
  const counts = stmt<unknown[], { kind: string; n: number }>(db, `SELECT r.kind AS kind, count(*) AS n ${where} GROUP BY r.kind`).all(...args);
  const byKind = { call: 0, import: 0 };
  for (const c of counts) if (c.kind === 'call' || c.kind === 'import') byKind[c.kind] = c.n;
  const total = counts.reduce((n, c) => n + c.n, 0);

  const files: RefFile[] = [];
  for (const r of results) {
    const { path, ...rest } = r;
    const last = files[files.length - 1];
    if (last && last.path === path) last.refs.push(rest);
    else files.push({ path, refs: [rest] });
  }
  return { query: q, results, files, total, more: total - results.length, moreIsLowerBound: false, byKind };
}
