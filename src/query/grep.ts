import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { CHUNK_LINES, fileIdOf, hasContentIndex, LINE_BITS, lineOf, otherTextFiles, readTextFile, rowidOf } from '../index-store/content.js';
import { allFiles, allowedFileIds, checkLangs, checkText, clampLimit, fileById, MAX_QUERY_CHARS, pathMatcher, stmt, type Page } from './common.js';
import { QueryError } from '../errors.js';

export interface ContentOptions {
  /** Treat the text as a JavaScript regular expression. */
  regex?: boolean;
  /** true: ignore case; false: match case; undefined: smart case (ignore case unless the text has a capital). */
  ignoreCase?: boolean;
  lang?: readonly string[];
  path?: string;
  limit?: number;
  /** Repository root, for the no-content-index fallback that reads files from disk. */
  root?: string | null;
  /** Stop scanning after this long (a regex without literals reads every line); default 10 s. */
  timeBudgetMs?: number;
  /** Lines of context to show before and after each match (like grep -C); default 0. */
  context?: number;
  /** A count of the changes seen by whoever watches the tree: the listing of the other text files is redone when it moves. */
  listingGeneration?: number;
}

export interface ContentHit {
  path: string;
  line: number;
  /** 0-based column of the match. */
  col: number;
  /** The line (trimmed; long lines cut around the match). */
  text: string;
  /** With context: the line as it is (indentation kept), and the lines before and after it. */
  full?: string;
  before?: string[];
  after?: string[];
}

export interface ContentResult extends Page<ContentHit> {
  query: string;
  regex: boolean;
  ignoreCase: boolean;
  /** Where the indexed files' lines came from: the index's content table, or the files on disk (no content index). */
  source: 'index' | 'disk';
  /** Files read besides the indexed ones (docs, templates, configs: every other text file git lists). */
  otherFiles: number;
  context: number;
  /** The scan hit the time budget: results and counts are incomplete. */
  timedOut: boolean;
}

export const CONTENT_DEFAULT_LIMIT = 50;
export const CONTENT_MAX_LIMIT = 2000;
export const CONTENT_MAX_CONTEXT = 20;
/** Matches beyond the limit are counted up to this many, then the count is reported as a lower bound. */
const COUNT_CAP = 1000;
const SNIPPET = 240;

type Matcher = (line: string) => number; // column of the first match, or -1

/**
 * Literal runs a regex match must contain, in order (used to find candidate lines through the trigram index).
 * Conservative: anything it does not understand ends a run, alternation gives up (no runs), and optional atoms
 * (`?`, `*`, `{0,n}`) are dropped, so every match of the pattern contains every run returned.
 */
export function regexLiterals(src: string): string[] {
  const runs: string[] = [];
  let cur = '';
  const flush = () => {
    if (cur) runs.push(cur);
    cur = '';
  };
  const skipClass = (i: number): number => {
    // i at '['; returns index after the closing ']'
    let j = i + 1;
    if (src[j] === '^') j++;
    if (src[j] === ']') j++;
    while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  for (let i = 0; i < src.length; ) {
    const c = src[i];
    if (c === '|') return [];
    if (c === '\\') {
      const n = src[i + 1] ?? '';
      if (/[A-Za-z0-9]/.test(n)) {
        flush();
        if (n === 'x') i += 4;
        else if (n === 'u') i += src[i + 2] === '{' ? src.indexOf('}', i) + 1 - i : 6;
        else if (n === 'c') i += 3;
        else if ((n === 'p' || n === 'P') && src[i + 2] === '{') i = src.indexOf('}', i) + 1;
        else if (n === 'k' && src[i + 2] === '<') i = src.indexOf('>', i) + 1;
        else if (/[0-9]/.test(n)) {
          i += 2;
          while (/[0-9]/.test(src[i] ?? '')) i++;
        } else i += 2;
        if (i <= 0) return [];
        continue;
      }
      cur += n;
      i += 2;
      continue;
    }
    if (c === '[') {
      flush();
      i = skipClass(i);
      continue;
    }
    if (c === '(') {
      flush();
      let depth = 0;
      let j = i;
      while (j < src.length) {
        const d = src[j];
        if (d === '\\') j += 2;
        else if (d === '[') j = skipClass(j);
        else {
          if (d === '(') depth++;
          else if (d === ')' && --depth === 0) break;
          j++;
        }
      }
      i = j + 1;
      continue;
    }
    if (c === '*' || c === '?') {
      cur = cur.slice(0, -1);
      flush();
      i++;
      continue;
    }
    if (c === '+') {
      flush();
      i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(,\d*)?\}/.exec(src.slice(i));
      if (m) {
        if (Number(m[1]) === 0) cur = cur.slice(0, -1);
        flush();
        i += m[0].length;
        continue;
      }
      cur += c;
      i++;
      continue;
    }
    if (c === '.' || c === '^' || c === '$') {
      flush();
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  flush();
  return runs;
}

function makeMatcher(text: string, regex: boolean, ignoreCase: boolean): Matcher {
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(text, ignoreCase ? 'i' : '');
    } catch (e) {
      throw new QueryError(`bad regular expression: ${(e as Error).message}`);
    }
    return (line) => {
      const m = re.exec(line);
      return m ? m.index : -1;
    };
  }
  if (ignoreCase) {
    const q = text.toLowerCase();
    return (line) => line.toLowerCase().indexOf(q);
  }
  return (line) => line.indexOf(text);
}

function snippet(line: string, col: number): string {
  const lead = line.length - line.trimStart().length;
  const text = line.trim();
  if (text.length <= SNIPPET) return text;
  const c = Math.max(0, col - lead);
  const start = Math.max(0, Math.min(c - 60, text.length - SNIPPET));
  return (start > 0 ? '…' : '') + text.slice(start, start + SNIPPET) + (start + SNIPPET < text.length ? '…' : '');
}

/** Most trigrams one query ANDs together: more narrow the candidates further but each adds a list to merge. */
const MAX_TRIGRAMS = 16;

/**
 * An FTS5 expression requiring the trigrams of every literal (3+ characters): rows holding all of them are the
 * candidates, verified afterwards. Each trigram is its own term (phrases need detail=full); LIKE is not used
 * because `_` and `%`, common in code (`__init__`), are LIKE wildcards and would discard most trigrams.
 */
export function trigramQuery(literals: readonly string[]): string | null {
  const grams = new Set<string>();
  for (const l of literals) {
    const cps = Array.from(l);
    for (let i = 0; i + 3 <= cps.length; i++) grams.add(cps.slice(i, i + 3).join(''));
  }
  if (grams.size === 0) return null;
  let list = [...grams];
  if (list.length > MAX_TRIGRAMS) {
    const step = list.length / MAX_TRIGRAMS;
    list = Array.from({ length: MAX_TRIGRAMS }, (_, i) => list[Math.floor(i * step)]);
  }
  return list.map((g) => `"${g.replace(/"/g, '""')}"`).join(' AND ');
}

/**
 * Lines that contain a substring or match a regex: in the indexed files (through the content index when there is
 * one: any literal of 3+ characters in the query narrows the candidates to the chunks holding its trigrams; shorter
 * queries and regexes without such a literal scan every stored line; without one, the files on disk), then in every
 * other text file git lists (docs, templates, configs), read from disk. Results are grouped by file, lines ascending:
 * the indexed files first, then the others.
 */
export async function searchContent(db: Database.Database, text: string, opts: ContentOptions = {}): Promise<ContentResult> {
  checkText(text, 'search text', MAX_QUERY_CHARS);
  const regex = !!opts.regex;
  const ignoreCase = opts.ignoreCase ?? !/[A-Z]/.test(regex ? text.replace(/\\./g, '') : text);
  const limit = clampLimit(opts.limit, CONTENT_DEFAULT_LIMIT, CONTENT_MAX_LIMIT);
  const context = opts.context ?? 0;
  if (!Number.isInteger(context) || context < 0 || context > CONTENT_MAX_CONTEXT) throw new QueryError(`context must be 0 to ${CONTENT_MAX_CONTEXT} lines (got ${context})`);
  const match = makeMatcher(text, regex, ignoreCase);
  const lang = checkLangs(opts.lang);
  const allowed = allowedFileIds(db, { lang, path: opts.path });
  const byId = fileById(db);
  // The other text files have no language: a language filter leaves them out.
  const others = opts.root && !lang ? (await otherTextFiles(opts.root, opts.listingGeneration)).filter(opts.path ? pathMatcher(opts.path) : () => true) : [];

  const results: ContentHit[] = [];
  /** Where each hit's lines can be read again for its context: a file id (content index) or the lines read from disk. */
  const sources: (number | string[])[] = [];
  let total = 0;
  let capped = false;
  let timedOut = false;
  const deadline = performance.now() + (opts.timeBudgetMs ?? 10_000);
  let checked = 0;
  const take = (path: string | undefined, line: number, s: string, src: number | string[]): boolean => {
    if ((checked++ & 1023) === 0 && performance.now() >= deadline) {
      timedOut = true;
      return false;
    }
    const col = match(s);
    if (col < 0 || path === undefined) return true;
    total++;
    if (results.length < limit) {
      results.push({ path, line, col, text: snippet(s, col) });
      if (context > 0) sources.push(src);
    } else if (total - limit >= COUNT_CAP) {
      capped = true;
      return false;
    }
    return true;
  };

  /** A row holds consecutive lines starting at `first`. */
  const takeChunk = (fileId: number, first: number, text: string): boolean => {
    const path = byId.get(fileId)?.path;
    let line = first;
    let pos = 0;
    while (pos <= text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      if (!take(path, line, text.slice(pos, end), fileId)) return false;
      line++;
      pos = end + 1;
    }
    return true;
  };
  const takeText = (path: string, content: string): boolean => {
    const lines = content.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the newline ending the last line
    for (let i = 0; i < lines.length; i++) if (!take(path, i + 1, lines[i], lines)) return false;
    return true;
  };

  const indexed = hasContentIndex(db);
  let going = true;
  if (indexed) {
    let literals = regex ? regexLiterals(text) : [text];
    // With ignore-case, JavaScript's case folding decides; the index folds case its own way, which for non-ASCII
    // letters could differ, so only ASCII literals narrow the candidates.
    if (ignoreCase) literals = literals.filter((l) => /^[\x00-\x7f]*$/.test(l));
    const expr = trigramQuery(literals);
    const where = expr ? 'content_fts MATCH ?' : '1';
    const args: unknown[] = expr ? [expr] : [];
    const fewFiles = allowed && allowed.size <= Math.max(50, allFiles(db).length / 20);
    if (allowed && fewFiles) {
      const q = stmt<unknown[], { rowid: number; text: string }>(db, `SELECT rowid, text FROM content_fts WHERE ${where} AND rowid >= ? AND rowid < ?`);
      const ids = [...allowed].sort((a, b) => a - b);
      outer: for (const id of ids) {
        for (const r of q.iterate(...args, id * LINE_BITS, (id + 1) * LINE_BITS)) {
          if (!(going = takeChunk(id, lineOf(r.rowid), r.text))) break outer;
        }
      }
    } else {
      const q = stmt<unknown[], { rowid: number; text: string }>(db, `SELECT rowid, text FROM content_fts WHERE ${where}`);
      for (const r of q.iterate(...args)) {
        const id = fileIdOf(r.rowid);
        if (allowed && !allowed.has(id)) continue;
        if (!(going = takeChunk(id, lineOf(r.rowid), r.text))) break;
      }
    }
  } else {
    if (!opts.root) throw new QueryError('this index has no content index and its repository root is unknown: pass --repo');
    const files = db
      .prepare<[], { id: number; path: string }>("SELECT id, path FROM files WHERE hash != '' AND status != 'error' ORDER BY path")
      .all();
    for (const f of files) {
      if (allowed && !allowed.has(f.id)) continue;
      let content: string;
      try {
        content = readFileSync(join(opts.root, f.path), 'utf8');
      } catch {
        continue;
      }
      if (!(going = takeText(f.path, content))) break;
    }
  }
  let otherFiles = 0;
  if (going && opts.root) {
    for (const path of others) {
      const content = readTextFile(join(opts.root, path));
      if (content === null) continue;
      otherFiles++;
      if (!takeText(path, content)) break;
    }
  }
  if (context > 0) {
    results.forEach((h, i) => {
      const src = sources[i];
      const known = typeof src === 'number' ? indexedLines(db, src, h.line - context, h.line + context) : null;
      const lineAt = (n: number) => (known ? known.get(n) : (src as string[])[n - 1]);
      const range = (from: number, to: number) => {
        const out: string[] = [];
        for (let n = Math.max(1, from); n <= to; n++) {
          const l = lineAt(n);
          if (l === undefined) break;
          out.push(l.length > SNIPPET ? l.slice(0, SNIPPET) + '…' : l);
        }
        return out;
      };
      h.full = range(h.line, h.line)[0];
      h.before = range(h.line - context, h.line - 1);
      h.after = range(h.line + 1, h.line + context);
    });
  }
  return {
    query: text,
    regex,
    ignoreCase,
    source: indexed ? 'index' : 'disk',
    otherFiles,
    context,
    results,
    total,
    more: total - results.length,
    moreIsLowerBound: capped || timedOut,
    timedOut,
  };
}

/** Lines `from..to` of an indexed file, read back from its content chunks (a blank chunk was not stored). */
function indexedLines(db: Database.Database, fileId: number, from: number, to: number): Map<number, string> {
  const out = new Map<number, string>();
  const first = Math.max(1, from);
  const total = stmt<[number], { lines: number }>(db, 'SELECT lines FROM content_files WHERE file_id = ?').get(fileId)?.lines ?? 0;
  const q = stmt<[number], { text: string }>(db, 'SELECT text FROM content_fts WHERE rowid = ?');
  for (let start = first - ((first - 1) % CHUNK_LINES); start <= Math.min(to, total); start += CHUNK_LINES) {
    const row = q.get(rowidOf(fileId, start));
    const lines = row ? row.text.split('\n') : Array.from({ length: Math.min(CHUNK_LINES, total - start + 1) }, () => '');
    lines.forEach((l, i) => out.set(start + i, l));
  }
  return out;
}
