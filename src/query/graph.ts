import type Database from 'better-sqlite3';
import { symbolPositionSql } from './columns.js';
import { clampLimit, stmt, type Page } from './common.js';
import { filesOfModule, importFiles, moduleIndex, resolveModule, type ImportRow, type ModuleIndex } from './modules.js';
import { splitScope } from './names.js';
import { resolveTarget, type Definition, type SymbolTarget } from './source.js';
import { QueryError } from '../errors.js';

/**
 * The call graph, read from the refs table. Calls are resolved by name and scope, like a person reading the file
 * without a type checker:
 * - `same-file`: a definition of that name in the calling file (a method of the enclosing class for `self.x()`,
 *   `this.x()`, `Self::x()`; a method of a class of that file for `Store.Entry(...)`);
 * - `import`: the calling file imports the name (`from app.store import open_store`), or the module or class it is
 *   called through (`json.dumps`, `plugins.load`, `fs::read_to_string`, `crate::io::stdout`), from a file in the
 *   index that defines it;
 * - `scope`: a definition elsewhere whose scope is the qualifier (`Config::new`, `Store.get` called as such);
 * - `name`: only the name matches (`obj.save()` with `obj` of unknown type): every such definition is a candidate,
 *   and the edge says how many there were.
 * A call through an import of a module outside the index (`os.path.join`, `std::fs::read`) is `external`; a call that
 * matches nothing (a builtin) is `unresolved`. Callables of another language never match.
 */

export type Via = 'same-file' | 'import' | 'scope' | 'name';
export const VIA_ORDER: readonly Via[] = ['same-file', 'import', 'scope', 'name'];

interface Def {
  id: number;
  fileId: number;
  path: string;
  language: string;
  kind: string;
  name: string;
  scope: string | null;
  qualified: string;
  line: number;
  startLine: number;
  endLine: number;
}

interface CallRow {
  fileId: number;
  line: number;
  col: number;
  name: string;
  scope: string | null;
  context: string | null;
}

export interface Resolution {
  via: Via | 'external' | 'unresolved';
  targets: Def[];
  /** external: the module the call goes through. */
  module?: string;
}

const MEMBER_KINDS = new Set(['method', 'constructor']);
const FREE_KINDS = new Set(['function', 'class', 'struct', 'enum', 'macro', 'interface', 'type']);
const family = (lang: string) => (lang === 'python' ? 'py' : lang === 'rust' ? 'rs' : 'js');

const POS = symbolPositionSql('s');
const DEF_SQL = `SELECT s.id AS id, s.file_id AS fileId, f.path AS path, f.language AS language, s.kind AS kind, s.name AS name,
  s.scope AS scope, s.qualified AS qualified, ${POS.line} AS line, s.start_line AS startLine, s.end_line AS endLine
  FROM symbols s JOIN files f ON f.id = s.file_id`;

type Callee = { kind: 'bare' } | { kind: 'self' } | { kind: 'path'; segs: string[]; sep: '.' | '::' } | { kind: 'expr' };

/** What a call is made through, from its callee expression: `f()`, `self.f()`, `a.b.f()` / `A::f()`, or anything else. */
function callee(name: string, context: string | null): Callee {
  const n = name.replace(/!$/, '');
  let c = (context ?? name).replace(/!$/, '').replace(/\s+/g, '');
  for (let i = 0; i < 4 && /::<[^<>]*>/.test(c); i++) c = c.replace(/::<[^<>]*>/g, ''); // Vec::<u8>::new
  if (c === n) return { kind: 'bare' };
  if (!c.endsWith(n)) return { kind: 'expr' };
  const head = c.slice(0, -n.length);
  const q = head.replace(/(\?\.|\.|::|->)$/, '');
  if (q === head || !q) return { kind: 'expr' };
  if (/^(self|this|cls|Self|super|super\(\))$/.test(q)) return { kind: 'self' };
  if (/^[A-Za-z_$][\w$]*((\.|::)[A-Za-z_$][\w$]*)*$/.test(q)) return { kind: 'path', segs: q.split(/\.|::/), sep: head.endsWith('::') ? '::' : '.' };
  return { kind: 'expr' };
}

/** `inner` is `outer` or nested in it (`Store.put` in `Store`, `Config::new` in `Config`). */
const within = (inner: string | null, outer: string) =>
  inner !== null && (inner === outer || (inner.startsWith(outer) && /^(\.|::)/.test(inner.slice(outer.length))));

/** The callable definitions one call could mean, indexed by file and by the last segment of their scope. */
class Candidates {
  readonly members: Def[];
  readonly free: Def[];
  private byFile = new Map<number, Def[]>();
  private byScopeTail = new Map<string, Def[]>();
  private segs = new Map<number, string[]>();

  constructor(readonly all: Def[]) {
    this.members = all.filter((d) => MEMBER_KINDS.has(d.kind));
    this.free = all.filter((d) => !MEMBER_KINDS.has(d.kind));
    for (const d of all) {
      const segs = d.scope ? splitScope(d.scope) : [];
      this.segs.set(d.id, segs);
      add(this.byFile, d.fileId, d);
      if (segs.length) add(this.byScopeTail, segs[segs.length - 1], d);
    }
  }

  inFile(fileId: number): Def[] {
    return this.byFile.get(fileId) ?? [];
  }

  /** Definitions whose scope ends with `tail` (an empty tail: top-level ones), in the given files or anywhere. */
  scoped(tail: readonly string[], files?: readonly number[]): Def[] {
    const pool = files ? files.flatMap((f) => this.inFile(f)) : tail.length ? (this.byScopeTail.get(tail[tail.length - 1]) ?? []) : this.all;
    return pool.filter((d) => endsWithSegs(this.segs.get(d.id)!, tail));
  }

  /** Definitions whose scope is exactly `scope`. */
  exactScope(scope: readonly string[], fileId: number): Def[] {
    return this.inFile(fileId).filter((d) => this.segs.get(d.id)!.join('\0') === scope.join('\0'));
  }
}

function add<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function endsWithSegs(have: readonly string[], tail: readonly string[]): boolean {
  if (tail.length === 0) return have.length === 0;
  if (tail.length > have.length) return false;
  const off = have.length - tail.length;
  return tail.every((s, i) => have[off + i] === s);
}

/** Per-query state: definitions by name and the files' imports, each read once. */
class Graph {
  readonly ix: ModuleIndex;
  private defs = new Map<string, Def[]>();
  private candidates = new Map<string, Candidates>();
  private fileDefs = new Map<number, Def[]>();

  constructor(readonly db: Database.Database) {
    this.ix = moduleIndex(db);
  }

  named(name: string): Def[] {
    let d = this.defs.get(name);
    if (!d) {
      d = stmt<[string, string], Def>(this.db, `${DEF_SQL} WHERE s.name = ? COLLATE NOCASE AND s.name = ?`).all(name, name);
      this.defs.set(name, d);
    }
    return d;
  }

  private callables(name: string, lang: string, macro: boolean): Candidates {
    const key = `${family(lang)}\0${macro ? '!' : ''}${name}`;
    let c = this.candidates.get(key);
    if (!c) {
      const all = this.named(name).filter((d) => family(d.language) === family(lang) && (macro ? d.kind === 'macro' : MEMBER_KINDS.has(d.kind) || FREE_KINDS.has(d.kind)));
      this.candidates.set(key, (c = new Candidates(all)));
    }
    return c;
  }

  inFile(fileId: number): Def[] {
    let d = this.fileDefs.get(fileId);
    if (!d) {
      d = stmt<[number], Def>(this.db, `${DEF_SQL} WHERE s.file_id = ? ORDER BY s.start_line`).all(fileId);
      this.fileDefs.set(fileId, d);
    }
    return d;
  }

  /** The innermost definition around a call (its `scope`), or null for module-level code. */
  enclosing(ref: CallRow): Def | null {
    if (ref.scope === null) return null;
    let best: Def | null = null;
    for (const d of this.inFile(ref.fileId)) {
      if (d.qualified === ref.scope && d.startLine <= ref.line && d.endLine >= ref.line) {
        if (!best || d.startLine >= best.startLine) best = d;
      }
    }
    return best;
  }

  resolve(ref: CallRow): Resolution {
    const lang = this.ix.files.get(ref.fileId)?.language ?? '';
    const macro = ref.name.endsWith('!');
    const name = ref.name.replace(/!$/, '');
    const cand = this.callables(name, lang, macro);
    const imports = this.ix.importsByFile.get(ref.fileId) ?? [];
    const result = (via: Resolution['via'], targets: Def[], module?: string): Resolution => (targets.length || via === 'external' ? { via, targets, module } : { via: 'unresolved', targets });
    const byName = () => result('name', cand.members);
    const c = macro ? ({ kind: 'bare' } as Callee) : callee(ref.name, ref.context);

    if (c.kind === 'bare') {
      const same = cand.inFile(ref.fileId).filter((d) => !MEMBER_KINDS.has(d.kind) && (d.scope === null || within(ref.scope, d.scope)));
      if (same.length) return result('same-file', same);
      let external: string | undefined;
      for (const imp of imports) {
        if (imp.name !== name && imp.name !== '*') continue;
        const files = importFiles(this.ix, imp);
        const hit = cand.scoped([], files.module).filter((d) => !MEMBER_KINDS.has(d.kind));
        if (hit.length) return result('import', hit);
        if (imp.name === name && files.module.length === 0 && files.named.length === 0) external = importPath(imp);
      }
      if (external !== undefined) return result('external', [], external);
      return result('name', cand.free);
    }

    if (c.kind === 'self') {
      // The enclosing classes: every proper prefix of the caller's scope (`Store` for a call in Store.put).
      const segs = ref.scope ? splitScope(ref.scope) : [];
      const classes = segs.slice(0, -1).map((_, i) => segs.slice(0, i + 1));
      const same = classes.flatMap((a) => cand.exactScope(a, ref.fileId)).filter((d) => MEMBER_KINDS.has(d.kind));
      if (same.length) return result('same-file', same);
      const scoped = classes.flatMap((a) => cand.scoped(a)).filter((d) => MEMBER_KINDS.has(d.kind));
      if (scoped.length) return result('scope', [...new Set(scoped)]);
      return byName(); // an inherited method: any method of that name
    }

    if (c.kind === 'path') {
      const [head, ...rest] = c.segs;
      // Rust paths from the crate root or the current module: `crate::io::stdout()`, `super::helper()`.
      if (lang === 'rust' && (head === 'crate' || head === 'self' || head === 'super')) {
        const hit = cand.scoped([], resolveModule(this.ix, ref.fileId, c.segs.join('::')));
        if (hit.length) return result('import', hit);
      }
      const imp = imports.find((i) => i.name === head);
      if (imp) {
        const files = importFiles(this.ix, imp);
        const hit = [...cand.scoped(rest, files.named), ...cand.scoped(c.segs, files.module)];
        if (hit.length) return result('import', hit);
        if (files.module.length === 0 && files.named.length === 0) return result('external', [], importPath(imp));
      }
      const same = cand.scoped(c.segs, [ref.fileId]);
      if (same.length) return result('same-file', same);
      const scoped = cand.scoped(c.segs);
      if (scoped.length) return result('scope', scoped);
      // `obj.save()`: an object of unknown type, so any method of that name. Not `Type::f()` or `Type.f()`: a type
      // that defines no such function here is outside the index.
      const last = c.segs[c.segs.length - 1];
      return c.sep === '.' && !/^[A-Z]/.test(last) ? byName() : result('unresolved', []);
    }

    return byName();
  }
}

/** How an import reads: `from app.store import Store` is app.store.Store; `use std::fs` is std::fs. */
function importPath(r: ImportRow): string {
  if (!r.module) return r.name;
  if (r.language === 'rust') return `${r.module}::${r.name}`;
  if (r.language === 'python') return r.module === r.name ? r.name : `${r.module}${r.module.endsWith('.') ? '' : '.'}${r.name}`;
  return r.module;
}

export interface GraphOptions {
  limit?: number;
  /**
   * Callers: by-name calls that could mean more than this many definitions are counted but not listed (an
   * `x.decode()` with 180 methods named decode says little about any one of them). Default 5; 0 lists them all.
   */
  maxCandidates?: number;
}

export interface CallEdge {
  path: string;
  line: number;
  col: number;
  /** The callee expression as written (`self.items.get`, `Config::new`). */
  callee: string;
  /** The definition the call is made from (qualified name), or null for module-level code. */
  caller: string | null;
  via: Via;
  /** How many definitions the call resolves to equally well (1: this one alone). */
  candidates: number;
}

export interface CallersResult extends Page<CallEdge> {
  target: Definition;
  others: ResolvedOthers;
  /** Calls found, by how they were resolved (listed or not). */
  byVia: Record<Via, number>;
  /** By-name calls not listed because they could mean more than maxCandidates definitions. */
  ambiguous: number;
  maxCandidates: number;
}

type ResolvedOthers = { qualified: string; kind: string; path: string; line: number }[];

export const GRAPH_DEFAULT_LIMIT = 50;
export const GRAPH_MAX_LIMIT = 1000;
const DEFAULT_MAX_CANDIDATES = 5;

const viaRank = (v: Via) => VIA_ORDER.indexOf(v);

/** Every call site in the index that resolves to the target, strongest resolution first. */
export function findCallers(db: Database.Database, t: SymbolTarget, root: string | null, opts: GraphOptions = {}): CallersResult {
  const limit = clampLimit(opts.limit, GRAPH_DEFAULT_LIMIT, GRAPH_MAX_LIMIT);
  const resolved = resolveTarget(db, t, root);
  const g = new Graph(db);
  const all = callersOf(g, resolved.symbol);
  const byVia: Record<Via, number> = { 'same-file': 0, import: 0, scope: 0, name: 0 };
  for (const e of all) byVia[e.via]++;
  const maxCandidates = opts.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  if (!Number.isInteger(maxCandidates) || maxCandidates < 0) throw new QueryError(`max candidates must be a whole number >= 0 (got ${maxCandidates})`);
  const edges = all.filter((e) => maxCandidates === 0 || e.via !== 'name' || e.candidates <= maxCandidates).map(({ ref: _ref, ...e }) => e);
  return {
    target: resolved.symbol,
    others: brief(resolved.others),
    byVia,
    ambiguous: all.length - edges.length,
    maxCandidates,
    results: edges.slice(0, limit),
    total: edges.length,
    more: Math.max(0, edges.length - limit),
    moreIsLowerBound: false,
  };
}

const brief = (hits: { qualified: string; kind: string; path: string; line: number }[]): ResolvedOthers =>
  hits.map((h) => ({ qualified: h.qualified, kind: h.kind, path: h.path, line: h.line }));

function callsNamed(g: Graph, name: string): CallRow[] {
  return stmt<[string, string], CallRow>(
    g.db,
    `SELECT r.file_id AS fileId, r.line AS line, r.col AS col, r.name AS name, r.scope AS scope, r.context AS context
     FROM refs r WHERE r.name IN (?, ?) AND r.kind = 'call'`,
  ).all(name, name + '!');
}

function callersOf(g: Graph, target: { id: number; name: string }): (CallEdge & { ref: CallRow })[] {
  const edges: (CallEdge & { ref: CallRow })[] = [];
  for (const ref of callsNamed(g, target.name)) {
    const r = g.resolve(ref);
    if (r.via === 'external' || r.via === 'unresolved' || !r.targets.some((d) => d.id === target.id)) continue;
    const path = g.ix.files.get(ref.fileId)?.path ?? '?';
    edges.push({ path, line: ref.line, col: ref.col, callee: ref.context ?? ref.name, caller: ref.scope, via: r.via, candidates: r.targets.length, ref });
  }
  edges.sort((a, b) => viaRank(a.via) - viaRank(b.via) || a.candidates - b.candidates || (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.col - b.col));
  return edges;
}

export interface CalleeEdge {
  line: number;
  col: number;
  callee: string;
  /** Where the call is made from, when that is a definition nested in the target. */
  caller: string | null;
  via: Via | 'external' | 'unresolved';
  /** The definitions it resolves to (at most 5 listed), and how many there were. */
  targets: { kind: string; qualified: string; path: string; line: number }[];
  candidates: number;
  module?: string;
}

export interface CalleesResult extends Page<CalleeEdge> {
  target: Definition;
  others: ResolvedOthers;
}

/** Every call made inside the target's range, each resolved (or said to be external or unresolved), in source order. */
export function findCallees(db: Database.Database, t: SymbolTarget, root: string | null, opts: GraphOptions = {}): CalleesResult {
  const limit = clampLimit(opts.limit, GRAPH_DEFAULT_LIMIT, GRAPH_MAX_LIMIT);
  const resolved = resolveTarget(db, t, root);
  const s = resolved.symbol;
  const g = new Graph(db);
  const calls = stmt<[number, number, number], CallRow>(
    db,
    `SELECT r.file_id AS fileId, r.line AS line, r.col AS col, r.name AS name, r.scope AS scope, r.context AS context
     FROM refs r WHERE r.file_id = ? AND r.kind = 'call' AND r.line >= ? AND r.line <= ? ORDER BY r.line, r.col`,
  ).all(s.fileId, s.startLine, s.endLine);
  const edges: CalleeEdge[] = calls.map((ref) => {
    const r = g.resolve(ref);
    return {
      line: ref.line,
      col: ref.col,
      callee: ref.context ?? ref.name,
      caller: ref.scope === s.qualified ? null : ref.scope,
      via: r.via,
      targets: r.targets.slice(0, 5).map((d) => ({ kind: d.kind, qualified: d.qualified, path: d.path, line: d.line })),
      candidates: r.targets.length,
      ...(r.module ? { module: r.module } : {}),
    };
  });
  return { target: s, others: brief(resolved.others), results: edges.slice(0, limit), total: edges.length, more: Math.max(0, edges.length - limit), moreIsLowerBound: false };
}

export interface ImpactNode {
  depth: number;
  /** A definition, or (qualified null) the module-level code of a file, which runs when the file is imported. */
  kind: string | null;
  qualified: string | null;
  path: string;
  line: number;
  /** The call through which it was reached, and how that call was resolved. */
  via: Via;
  candidates: number;
  callLine: number;
  /** The qualified name of what it calls on the way to the target. */
  calls: string;
  /** False when it was not searched further: module-level code, an ambiguous by-name call, or the depth limit. */
  expanded: boolean;
}

export interface ImpactResult {
  target: Definition;
  others: ResolvedOthers;
  depth: number;
  nodes: ImpactNode[];
  /** True when the node budget stopped the search before the depth limit. */
  truncated: boolean;
}

export const IMPACT_DEFAULT_DEPTH = 3;
export const IMPACT_MAX_DEPTH = 6;
const IMPACT_MAX_NODES = 300;

/**
 * What may break if the target changes: its callers, their callers, ... up to `depth`, breadth first. Callers reached
 * by an ambiguous by-name call are listed but not followed (their own callers would be mostly noise).
 */
export function findImpact(db: Database.Database, t: SymbolTarget, root: string | null, opts: { depth?: number } = {}): ImpactResult {
  const depth = opts.depth ?? IMPACT_DEFAULT_DEPTH;
  if (!Number.isInteger(depth) || depth < 1 || depth > IMPACT_MAX_DEPTH) throw new QueryError(`depth must be 1 to ${IMPACT_MAX_DEPTH} (got ${depth})`);
  const resolved = resolveTarget(db, t, root);
  const g = new Graph(db);
  const seen = new Set<string>([`d${resolved.symbol.id}`]);
  const nodes: ImpactNode[] = [];
  let frontier: { id: number; name: string; qualified: string }[] = [resolved.symbol];
  let truncated = false;
  for (let d = 1; d <= depth && frontier.length && !truncated; d++) {
    const next: typeof frontier = [];
    for (const callee of frontier) {
      for (const e of callersOf(g, callee)) {
        const def = g.enclosing(e.ref);
        const key = def ? `d${def.id}` : `m${e.ref.fileId}`;
        if (seen.has(key)) continue;
        if (nodes.length >= IMPACT_MAX_NODES) {
          truncated = true;
          break;
        }
        seen.add(key);
        const follow = def !== null && (e.via !== 'name' || e.candidates === 1) && d < depth;
        nodes.push({
          depth: d,
          kind: def?.kind ?? null,
          qualified: def?.qualified ?? null,
          path: e.path,
          line: def?.line ?? 1,
          via: e.via,
          candidates: e.candidates,
          callLine: e.line,
          calls: callee.qualified,
          expanded: follow,
        });
        if (follow) next.push(def!);
      }
      if (truncated) break;
    }
    frontier = next;
  }
  return { target: resolved.symbol, others: brief(resolved.others), depth, nodes, truncated };
}

export interface ImporterHit {
  path: string;
  line: number;
  /** What is imported (`Store`, `*`, the module itself). */
  name: string;
  /** The module as the import spells it. */
  module: string;
  /** resolved: the import's module was found to be the target's file; by-name: the same module name, not in the index. */
  match: 'resolved' | 'by-name';
}

export interface ImportersResult extends Page<ImporterHit> {
  query: string;
  /** The indexed files the module name stands for (empty for a module outside the index). */
  files: string[];
  /** Distinct importing files. */
  importingFiles: number;
}

/**
 * Files importing a module, or names from it: the module given as a dotted or `::` name (`app.store`, `std::io`),
 * a relative JS specifier's target path, or a file path. Imports that resolve to the module's file match; so do, for
 * a module outside the index (`json` when the stdlib is not indexed), imports that spell the same module name.
 */
export function findImporters(db: Database.Database, module: string, opts: GraphOptions = {}): ImportersResult {
  const q = module.trim();
  if (!q) throw new QueryError('empty module name');
  const limit = clampLimit(opts.limit, GRAPH_DEFAULT_LIMIT, GRAPH_MAX_LIMIT);
  const ix = moduleIndex(db);
  const targets = new Set(filesOfModule(ix, q));
  const spelled = q.replace(/\.(py|pyi|rs|[cm]?[jt]sx?)$/, '');
  const hits: ImporterHit[] = [];
  for (const r of ix.imports) {
    if (targets.has(r.fileId)) continue; // a file's imports of itself (Rust `use self::x`) are not importers
    const files = importFiles(ix, r);
    const full = importPath(r);
    let match: ImporterHit['match'] | null = null;
    if (files.module.some((id) => targets.has(id)) || files.named.some((id) => targets.has(id))) match = 'resolved';
    else if (files.module.length === 0 && files.named.length === 0 && (r.module === spelled || full === spelled)) match = 'by-name';
    if (match) hits.push({ path: r.path, line: r.line, name: r.name, module: r.module ?? r.name, match });
  }
  hits.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line));
  return {
    query: q,
    files: [...targets].map((id) => ix.files.get(id)!.path).sort(),
    importingFiles: new Set(hits.map((h) => h.path)).size,
    results: hits.slice(0, limit),
    total: hits.length,
    more: Math.max(0, hits.length - limit),
    moreIsLowerBound: false,
  };
}
