import { posix } from 'node:path';
import type Database from 'better-sqlite3';
import { IMPORT_MODULE_SQL, importModule } from './columns.js';
import { allFiles } from './common.js';

/**
 * Which indexed files an import names, by path arithmetic alone (no build system, no re-exports followed):
 * - Python: `a.b` is `a/b.py` or `a/b/__init__.py` anywhere in the tree (the shortest such path wins), `.b` and `..b`
 *   are relative to the importing file's package;
 * - Rust: `crate::a::b`, `self::`, `super::`, and `<crate>::a::b` for crates in the tree (a folder with `src/`:
 *   `library/std/src/io/mod.rs` is `std::io`); a path whose last parts are items resolves to the module holding them;
 * - JS/TS: relative specifiers (`./client`, `../lib/x.js`), with the usual extensions and `index` files; package
 *   names are outside the tree.
 */

export interface ImportRow {
  fileId: number;
  path: string;
  language: string;
  line: number;
  col: number;
  /** The imported name (`Store` in `from app.store import Store`; the module itself for `import json`). */
  name: string;
  scope: string | null;
  /** The module specifier (see importModule); null when the import names a crate or module on its own. */
  module: string | null;
}

interface FileInfo {
  id: number;
  path: string;
  language: string;
}

export interface ModuleIndex {
  imports: ImportRow[];
  importsByFile: Map<number, ImportRow[]>;
  files: Map<number, FileInfo>;
  byPath: Map<string, number>;
  /** Python: every dotted suffix of a module path (`decoder`, `json.decoder`, ...) -> files. */
  python: Map<string, number[]>;
  /** Rust: `crate::mod::sub` -> files, and each Rust file's own module path. */
  rust: Map<string, number[]>;
  rustModule: Map<number, string[]>;
  /** Resolutions already made: `<file id>\0<specifier>` -> files. */
  cache: Map<string, number[]>;
}

const cacheByDb = new WeakMap<Database.Database, ModuleIndex>();

const push = (m: Map<string, number[]>, k: string, id: number) => {
  const l = m.get(k);
  if (l) l.push(id);
  else m.set(k, [id]);
};

/** A Rust file's crate and module path: `library/alloc/src/vec/mod.rs` -> alloc, vec. Null outside a `src` folder. */
function rustModulePath(path: string): string[] | null {
  const parts = path.split('/');
  const src = parts.lastIndexOf('src');
  if (src < 1) return null;
  const crate = parts[src - 1].replace(/-/g, '_');
  const mod = parts.slice(src + 1);
  const last = mod.pop()!.replace(/\.rs$/, '');
  if (!(mod.length === 0 && (last === 'lib' || last === 'main')) && last !== 'mod') mod.push(last);
  return [crate, ...mod];
}

/** Loaded once per connection: every import ref (one scan of the refs table) and the module maps. */
export function moduleIndex(db: Database.Database): ModuleIndex {
  let ix = cacheByDb.get(db);
  if (ix) return ix;
  const files = new Map(allFiles(db).map((f) => [f.id, f]));
  const byPath = new Map(allFiles(db).map((f) => [f.path, f.id]));
  const python = new Map<string, number[]>();
  const rust = new Map<string, number[]>();
  const rustModule = new Map<number, string[]>();
  for (const f of files.values()) {
    if (f.language === 'python') {
      const segs = f.path.replace(/\.pyi?$/, '').split('/');
      if (segs[segs.length - 1] === '__init__') segs.pop();
      for (let k = 1; k <= segs.length; k++) push(python, segs.slice(-k).join('.'), f.id);
    } else if (f.language === 'rust') {
      const m = rustModulePath(f.path);
      if (m) {
        rustModule.set(f.id, m);
        push(rust, m.join('::'), f.id);
      }
    }
  }
  const rows = db
    .prepare(`SELECT r.file_id, r.line, r.col, r.name, r.scope, ${IMPORT_MODULE_SQL('r')} FROM refs r WHERE r.kind = 'import'`)
    .raw()
    .all() as [number, number, number, string, string | null, string | null][];
  const imports: ImportRow[] = [];
  const importsByFile = new Map<number, ImportRow[]>();
  for (const [fileId, line, col, name, scope, raw] of rows) {
    const f = files.get(fileId);
    if (!f) continue;
    const row: ImportRow = { fileId, path: f.path, language: f.language, line, col, name, scope, module: importModule(raw) };
    imports.push(row);
    const l = importsByFile.get(fileId);
    if (l) l.push(row);
    else importsByFile.set(fileId, [row]);
  }
  ix = { imports, importsByFile, files, byPath, python, rust, rustModule, cache: new Map() };
  cacheByDb.set(db, ix);
  return ix;
}

const JS_EXTS = ['.ts', '.tsx', '.mts', '.cts', '.d.ts', '.js', '.jsx', '.mjs', '.cjs'];

function resolvePython(ix: ModuleIndex, from: FileInfo, spec: string): number[] {
  const dots = /^\.*/.exec(spec)![0].length;
  const rest = spec.slice(dots).split('.').filter(Boolean);
  if (dots > 0) {
    let base = posix.dirname(from.path).split('/').filter((s) => s && s !== '.');
    base = base.slice(0, Math.max(0, base.length - (dots - 1)));
    const p = [...base, ...rest].join('/');
    const tries = rest.length ? [`${p}.py`, `${p}.pyi`, `${p}/__init__.py`, `${p}/__init__.pyi`] : [`${p ? p + '/' : ''}__init__.py`];
    return tries.map((t) => ix.byPath.get(t)).filter((id): id is number => id !== undefined).slice(0, 1);
  }
  const hits = ix.python.get(rest.join('.')) ?? [];
  if (hits.length <= 1) return hits;
  // The shortest paths: `json` is python/json/__init__.py rather than some test/support/json.py.
  const depth = (id: number) => ix.files.get(id)!.path.split('/').length;
  const min = Math.min(...hits.map(depth));
  return hits.filter((id) => depth(id) === min);
}

/** A Rust path with `crate`, `self` and `super` replaced by the module path they stand for in the importing file. */
function rustSegments(ix: ModuleIndex, fromId: number, spec: string): string[] {
  const segs = spec.split('::').filter(Boolean);
  const here = ix.rustModule.get(fromId);
  if (!here) return segs;
  if (segs[0] === 'crate') segs.splice(0, 1, here[0]);
  else if (segs[0] === 'self' || segs[0] === 'super') {
    const mod = [...here];
    if (segs[0] === 'self') segs.shift();
    while (segs[0] === 'super') {
      segs.shift();
      if (mod.length > 1) mod.pop();
    }
    segs.unshift(...mod);
  }
  return segs;
}

function resolveRust(ix: ModuleIndex, from: FileInfo, spec: string): number[] {
  const segs = rustSegments(ix, from.id, spec);
  // The longest prefix that is a module: the rest are items defined in (or re-exported by) it.
  for (let n = segs.length; n >= 1; n--) {
    const hits = ix.rust.get(segs.slice(0, n).join('::'));
    if (hits) return hits;
  }
  return [];
}

function resolveJs(ix: ModuleIndex, from: FileInfo, spec: string): number[] {
  if (!spec.startsWith('.')) return [];
  const p = posix.normalize(posix.join(posix.dirname(from.path), spec));
  const stem = p.replace(/\.(m|c)?jsx?$/, '');
  const tries = [p, ...JS_EXTS.map((e) => stem + e), ...JS_EXTS.map((e) => `${p}/index${e}`)];
  for (const t of tries) {
    const id = ix.byPath.get(t);
    if (id !== undefined) return [id];
  }
  return [];
}

/** The indexed files a module specifier names, seen from the file that imports it (cached). */
export function resolveModule(ix: ModuleIndex, fromId: number, spec: string): number[] {
  const key = `${fromId}\0${spec}`;
  let hit = ix.cache.get(key);
  if (hit) return hit;
  const from = ix.files.get(fromId);
  if (!from) return [];
  hit = from.language === 'python' ? resolvePython(ix, from, spec) : from.language === 'rust' ? resolveRust(ix, from, spec) : resolveJs(ix, from, spec);
  ix.cache.set(key, hit);
  return hit;
}

/**
 * What an import brings in, as files: `module` are the files of the module it imports from; `named` the files of the
 * imported name when that is itself a module (`from app import plugins`, `use std::fs`, `import os.path`).
 */
export function importFiles(ix: ModuleIndex, r: ImportRow): { module: number[]; named: number[] } {
  if (r.language === 'python') {
    if (r.module === null || r.module === r.name) return { module: [], named: resolveModule(ix, r.fileId, r.name) };
    const sep = r.module.endsWith('.') ? '' : '.';
    return { module: resolveModule(ix, r.fileId, r.module), named: r.name === '*' ? [] : resolveModule(ix, r.fileId, r.module + sep + r.name) };
  }
  if (r.language === 'rust') {
    const full = r.module ? `${r.module}::${r.name}` : r.name;
    const named = r.name === '*' ? [] : (ix.rust.get(rustSegments(ix, r.fileId, full).join('::')) ?? []);
    return { module: r.module ? resolveModule(ix, r.fileId, r.module) : [], named };
  }
  return { module: r.module ? resolveModule(ix, r.fileId, r.module) : [], named: [] };
}

/** The files a module name given by a person means: dotted Python, `::` Rust, or a path. */
export function filesOfModule(ix: ModuleIndex, spec: string): number[] {
  const s = spec.trim().replace(/\\/g, '/');
  const byPath = ix.byPath.get(s.replace(/^\.\//, ''));
  if (byPath !== undefined) return [byPath];
  if (s.includes('::')) {
    const segs = s.split('::').filter(Boolean);
    return ix.rust.get(segs.join('::')) ?? [];
  }
  if (s.includes('/')) {
    // a path without its extension, or a folder: its index/__init__/mod file
    const bare = s.replace(/^\.\//, '').replace(/\/+$/, '');
    const out: number[] = [];
    for (const [p, id] of ix.byPath) {
      const stem = p.replace(/\.[^./]+$/, '');
      if (stem === bare || stem === `${bare}/index` || stem === `${bare}/__init__` || stem === `${bare}/mod`) out.push(id);
    }
    return out;
  }
  const py = ix.python.get(s);
  if (py?.length) {
    const depth = (id: number) => ix.files.get(id)!.path.split('/').length;
    const min = Math.min(...py.map(depth));
    return py.filter((id) => depth(id) === min);
  }
  return ix.rust.get(s) ?? [];
}
