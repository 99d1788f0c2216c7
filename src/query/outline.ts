import { isAbsolute, relative, resolve, sep } from 'node:path';
import type Database from 'better-sqlite3';
import { parseFlags } from '../index-store/schema.js';
import { symbolPositionSql } from './columns.js';
import { allFiles } from './common.js';
import { QueryError } from '../errors.js';

export interface OutlineNode {
  name: string;
  kind: string;
  qualified: string;
  /** The name's own position. */
  line: number;
  col: number;
  /** The enclosing range (decorators and doc comment included). */
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
  signature: string;
  /** First line of the doc comment / docstring. */
  doc: string | null;
  flags: string[];
  children: OutlineNode[];
}

export interface OutlineResult {
  path: string;
  language: string;
  status: string;
  error: { code: string; message: string } | null;
  /** Symbols in the file (all depths). */
  count: number;
  symbols: OutlineNode[];
}

interface Row {
  name: string;
  kind: string;
  scope: string | null;
  qualified: string;
  line: number;
  col: number;
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
  signature: string;
  doc: string | null;
  flags: string | null;
}

/**
 * Finds the indexed file a user means: a repo-relative path, a path relative to `cwd` or absolute inside the
 * repository, or an unambiguous suffix ("parse.rs" when only one file ends with /parse.rs).
 */
export function resolveFile(db: Database.Database, input: string, root: string | null, cwd = process.cwd()): { id: number; path: string; language: string } {
  const files = allFiles(db);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const clean = input.replace(/\\/g, '/').replace(/^\.\//, '');
  const tries = [clean];
  if (root) {
    const abs = isAbsolute(input) ? input : resolve(cwd, input);
    const rel = relative(root, abs);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) tries.push(rel.split(sep).join('/'));
  }
  for (const t of tries) {
    const f = byPath.get(t);
    if (f) return f;
  }
  const suffix = files.filter((f) => f.path.endsWith('/' + clean));
  if (suffix.length === 1) return suffix[0];
  if (suffix.length > 1) {
    const shown = suffix.slice(0, 10).map((f) => f.path);
    throw new QueryError(`"${input}" matches ${suffix.length} indexed files: ${shown.join(', ')}${suffix.length > 10 ? ', ...' : ''}`);
  }
  throw new QueryError(`file not in the index: ${input} (paths are relative to the repository root${root ? ` ${root}` : ''})`);
}

const contains = (a: Row, b: Row) =>
  (a.startLine < b.startLine || (a.startLine === b.startLine && a.startCol <= b.startCol)) &&
  (a.endLine > b.endLine || (a.endLine === b.endLine && a.endCol >= b.endCol));

const POS = symbolPositionSql('symbols');

/**
 * A file's symbols in source order, nested: a symbol goes under the innermost enclosing symbol whose qualified
 * name is its scope (falling back to the innermost enclosing one, e.g. a method under its impl block).
 */
export function fileOutline(db: Database.Database, file: string, root: string | null, cwd?: string): OutlineResult {
  const f = resolveFile(db, file, root, cwd);
  const info = db
    .prepare<[number], { status: string; error_code: string | null; error: string | null }>('SELECT status, error_code, error FROM files WHERE id = ?')
    .get(f.id)!;
  const rows = db
    .prepare<[number], Row>(
      `SELECT name, kind, scope, qualified, ${POS.line} AS line, ${POS.col} AS col, start_line AS startLine, start_col AS startCol,
         end_line AS endLine, end_col AS endCol, signature, doc, flags
       FROM symbols WHERE file_id = ? ORDER BY start_line, start_col, end_line DESC, end_col DESC, id`,
    )
    .all(f.id);
  const top: OutlineNode[] = [];
  const stack: { row: Row; node: OutlineNode }[] = [];
  for (const row of rows) {
    while (stack.length && !contains(stack[stack.length - 1].row, row)) stack.pop();
    const node: OutlineNode = {
      name: row.name,
      kind: row.kind,
      qualified: row.qualified,
      line: row.line,
      col: row.col,
      startLine: row.startLine,
      startCol: row.startCol,
      endLine: row.endLine,
      endCol: row.endCol,
      signature: row.signature,
      doc: row.doc ? row.doc.split('\n').find((l) => l.trim())?.trim() ?? null : null,
      flags: parseFlags(row.flags),
      children: [],
    };
    let parent: OutlineNode | null = null;
    if (row.scope !== null && stack.length) {
      const byScope = [...stack].reverse().find((s) => s.row.qualified === row.scope);
      parent = (byScope ?? stack[stack.length - 1]).node;
    }
    (parent ? parent.children : top).push(node);
    stack.push({ row, node });
  }
  return {
    path: f.path,
    language: f.language,
    status: info.status,
    error: info.error_code ? { code: info.error_code, message: info.error ?? '' } : null,
    count: rows.length,
    symbols: top,
  };
}
