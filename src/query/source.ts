import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { symbolPositionSql } from './columns.js';
import { checkKinds, checkLangs, clampLimit, stmt, SYMBOL_COLUMNS, toHit, type SymbolHit, type SymbolRow } from './common.js';
import { findSymbols } from './find.js';
import { parseName } from './names.js';
import { resolveFile } from './outline.js';
import { QueryError } from '../errors.js';

/** A symbol as a tool argument: a name (plain or qualified), optionally narrowed by path and kind; or a file and a line in it. */
export interface SymbolTarget {
  name?: string;
  /** With `line`: the file (repo-relative, absolute, or a unique suffix). Without: a glob narrowing the name's matches. */
  path?: string;
  /** A line inside the symbol (its innermost enclosing definition is meant). */
  line?: number;
  kind?: readonly string[];
  lang?: readonly string[];
}

/** A definition with what the call graph needs besides what is shown. */
export interface Definition extends SymbolHit {
  id: number;
  fileId: number;
}

export interface ResolvedTarget {
  symbol: Definition;
  /** Other definitions the name matched equally well (the first is the one answered for), at most 10. */
  others: SymbolHit[];
  /** How many definitions matched in all. */
  matches: number;
}

const DEF_COLUMNS = `s.id AS id, s.file_id AS fileId, ${SYMBOL_COLUMNS}`;
type DefRow = SymbolRow & { id: number; fileId: number };
const toDef = (r: DefRow): Definition => ({ ...toHit(r), id: r.id, fileId: r.fileId });

/** Kinds that are not worth answering "the symbol at this line" with when a definition encloses it too. */
const DATA_KINDS = new Set(['variable', 'constant', 'field', 'property', 'enum_member', 'static']);

/**
 * Finds the one definition a tool call means. By name: the best exact match (see findSymbols: definitions first,
 * source before tests, then shorter qualified names), with the others listed so the caller can narrow by path. By
 * file and line: the innermost definition whose range holds the line (a function rather than a local in it).
 */
export function resolveTarget(db: Database.Database, t: SymbolTarget, root: string | null): ResolvedTarget {
  const kind = checkKinds(t.kind);
  const lang = checkLangs(t.lang);
  if (t.line !== undefined) {
    if (!Number.isInteger(t.line) || t.line < 1) throw new QueryError(`line must be a positive integer (got ${t.line})`);
    if (!t.path) throw new QueryError('a line needs the path of its file');
    const file = resolveFile(db, t.path, root, root ?? undefined);
    const rows = stmt<[number, number, number], DefRow>(
      db,
      `SELECT ${DEF_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id
       WHERE s.file_id = ? AND s.start_line <= ? AND s.end_line >= ? ORDER BY s.start_line DESC, s.end_line ASC`,
    )
      .all(file.id, t.line, t.line)
      .filter((r) => (!t.name || r.name === t.name || r.qualified === t.name) && (!kind || kind.includes(r.kind)));
    const best = rows.find((r) => !DATA_KINDS.has(r.kind)) ?? rows[0];
    if (!best) throw new QueryError(`no ${t.name ? `symbol "${t.name}"` : 'definition'} encloses ${file.path}:${t.line}`);
    return { symbol: toDef(best), others: [], matches: 1 };
  }
  if (!t.name) throw new QueryError('give a name (plain or qualified, e.g. "Class.method"), or a path and a line');
  const found = findSymbols(db, t.name, { match: 'exact', kind, lang, path: t.path, limit: 11 });
  if (found.results.length === 0) {
    let near = findSymbols(db, t.name, { kind, lang, path: t.path, limit: 5 }).results;
    const q = parseName(t.name);
    if (near.length === 0 && q.qualifier.length) near = findSymbols(db, q.name, { kind, lang, path: t.path, limit: 5 }).results; // the qualifier was wrong
    const hint = near.length ? `; closest: ${near.map((h) => `${h.qualified} (${h.path}:${h.line})`).join(', ')}` : '';
    throw new QueryError(`no definition named "${t.name}"${t.path ? ` under ${t.path}` : ''}${hint}`);
  }
  const first = found.results[0];
  const row = stmt<[string, number, string], DefRow>(
    db,
    `SELECT ${DEF_COLUMNS} FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? AND ${symbolPositionSql('s').line} = ? AND s.qualified = ? LIMIT 1`,
  ).get(first.path, first.line, first.qualified)!;
  return { symbol: toDef(row), others: found.results.slice(1), matches: found.counts.exact };
}

export interface SourceOptions {
  /** Most lines of source to return (default 200). */
  maxLines?: number;
}

export interface SourceResult extends ResolvedTarget {
  /** The whole signature (the index stores it cut at 240 characters; this one is read from the source). */
  signature: string;
  doc: string | null;
  /** The lines shown: the enclosing range, or its first maxLines lines. */
  from: number;
  to: number;
  text: string;
  /** True when the range was longer than maxLines. */
  cut: boolean;
  /** When cut: the members (methods, fields...) that start below the cut, so they can be asked for by name. */
  hiddenMembers: { kind: string; name: string; qualified: string; line: number }[];
  /** The file differs from what was indexed (size or modification time): lines may have moved. */
  changedOnDisk: boolean;
}

export const SOURCE_DEFAULT_LINES = 200;
export const SOURCE_MAX_LINES = 2000;
const SIGNATURE_MAX = 2000;

/** A symbol's source from its enclosing range, with its docstring and whole signature, cut at maxLines. */
export function symbolSource(db: Database.Database, t: SymbolTarget, root: string | null, opts: SourceOptions = {}): SourceResult {
  const maxLines = clampLimit(opts.maxLines, SOURCE_DEFAULT_LINES, SOURCE_MAX_LINES);
  if (!root) throw new QueryError('the repository root is unknown, so its files cannot be read: pass --repo');
  const target = resolveTarget(db, t, root);
  const s = target.symbol;
  const file = db.prepare<[number], { size: number; mtime_ms: number }>('SELECT size, mtime_ms FROM files WHERE id = ?').get(s.fileId)!;
  const abs = join(root, s.path);
  let content: string;
  let changedOnDisk = false;
  try {
    content = readFileSync(abs, 'utf8');
    const st = statSync(abs);
    changedOnDisk = st.size !== file.size || (file.mtime_ms !== 0 && Math.trunc(st.mtimeMs) !== file.mtime_ms);
  } catch (err) {
    throw new QueryError(`cannot read ${s.path}: ${(err as Error).message}`);
  }
  const lines = content.split('\n');
  const from = Math.max(1, Math.min(s.startLine, lines.length));
  const end = Math.max(from, Math.min(s.endLine, lines.length));
  const to = Math.min(end, from + maxLines - 1);
  const text = lines
    .slice(from - 1, to)
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .join('\n');
  const hiddenMembers =
    to < end
      ? stmt<[number, string, number], { kind: string; name: string; qualified: string; line: number }>(
          db,
          `SELECT kind, name, qualified, ${symbolPositionSql('symbols').line} AS line FROM symbols
           WHERE file_id = ? AND scope = ? AND start_line > ? ORDER BY start_line LIMIT 50`,
        ).all(s.fileId, s.qualified, to)
      : [];
  return {
    ...target,
    signature: s.signature.endsWith('…') ? fullSignature(lines, s.line, s.language) ?? s.signature : s.signature,
    doc: s.doc,
    from,
    to,
    text,
    cut: to < end,
    hiddenMembers,
    changedOnDisk,
  };
}

/**
 * The header of a definition read from its source, from the name's line to where the body starts: a `{`, `;` or
 * `=` (Rust, JS/TS) or a `:` ending a line (Python) outside brackets. Whitespace collapsed; null if no end is found.
 */
export function fullSignature(lines: readonly string[], line: number, language: string): string | null {
  let out = '';
  let depth = 0;
  for (let i = line - 1; i < lines.length && out.length < SIGNATURE_MAX; i++) {
    const l = lines[i];
    for (let j = 0; j < l.length; j++) {
      const c = l[j];
      if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth = Math.max(0, depth - 1);
      else if (depth === 0) {
        const python = language === 'python';
        const ends = python ? c === ':' && /^\s*(#.*)?$/.test(l.slice(j + 1)) : c === '{' || c === ';' || (c === '=' && l[j + 1] !== '>');
        if (ends) return (out + l.slice(0, j)).replace(/\s+/g, ' ').trim();
      }
    }
    out += l + '\n';
  }
  return null;
}
